"""In real Chromium: bob comments on alice's promotion request, mentioning carol picked from the
list with the keyboard, and the comment joins the conversation after the reviews, no reload."""

import pytest
from playwright.sync_api import expect

from notifications.models import Event, Notification
from registry.models import ModelVersion
from reviews import services

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


def test_bob_comments_on_a_request_with_a_mention_without_reloading(tab, people, teams):
    alice, bob = people["alice"], people["bob"]
    pushed_version(alice, registered_model(alice, teams["fraud"], "iris"))
    version = ModelVersion.objects.select_related("model__team").get()
    request = services.open_request(
        actor=alice, version=version, to_stage="production", message="Ready for traffic"
    )
    services.give_review(actor=bob, request=request, decision="comment", body="Reading it")
    tab.log_in("bob", PASSWORD)
    tab.open("/requests/1/")
    page = tab.page
    page.evaluate("window.sameDocument = true")

    box = page.get_by_label("Comment on the request")
    box.press_sequentially("Latency is fine. @ca")
    suggestions = page.get_by_role("listbox", name="Team members to mention")
    expect(suggestions.get_by_role("option")).to_have_count(1)
    box.press("ArrowDown")
    expect(suggestions.get_by_role("option", selected=True)).to_contain_text("@carol")
    box.press("Enter")
    expect(suggestions).to_be_hidden()
    box.press_sequentially("please confirm.")
    expect(box).to_have_value("Latency is fine. @carol please confirm.")
    page.get_by_role("button", name="Comment", exact=True).click()

    stream = page.locator("#conversation-stream")
    thread = stream.locator("article.thread")
    expect(thread).to_have_count(1)
    expect(thread.locator(".mention")).to_have_text("@carol")
    expect(box).to_have_value("")
    entries = stream.locator(":scope > article")
    expect(entries).to_have_count(3)  # the opening, bob's review, then his comment
    expect(entries.nth(1)).to_contain_text("Reading it")
    expect(entries.nth(2)).to_contain_text("Latency is fine.")

    assert page.evaluate("window.sameDocument") is True  # no reload happened
    mentions = Notification.objects.filter(event=Event.MENTION)
    assert list(mentions.values_list("recipient__username", flat=True)) == ["carol"]
    tab.assert_stayed_local_and_quiet()

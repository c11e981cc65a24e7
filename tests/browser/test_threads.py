"""In real Chromium: bob starts a thread on a model page, mentioning carol picked from the list
with the keyboard; replies inline without a reload; edits his reply, which then says "edited";
and the script he pasted stays text."""

import pytest
from playwright.sync_api import expect

from discussions import services
from notifications.models import Event, Notification

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


def test_bob_discusses_a_model_without_reloading_the_page(tab, people, teams):
    alice = people["alice"]
    pushed_version(alice, registered_model(alice, teams["fraud"], "fraud-detector"))
    tab.log_in("bob", PASSWORD)
    tab.open("/models/fraud-detector/")
    page = tab.page
    page.evaluate("window.sameDocument = true")

    box = page.get_by_label("Start a thread")
    box.press_sequentially("Shadow traffic looks fine. @")
    suggestions = page.get_by_role("listbox", name="Team members to mention")
    expect(suggestions.get_by_role("option")).to_have_count(4)  # alice, bob, carol, victor
    box.press("ArrowDown")
    box.press("ArrowDown")
    expect(suggestions.get_by_role("option", selected=True)).to_contain_text("@carol")
    box.press("Enter")
    expect(suggestions).to_be_hidden()
    box.press_sequentially("please confirm.")
    expect(box).to_have_value("Shadow traffic looks fine. @carol please confirm.")
    page.get_by_role("button", name="Start thread").click()

    thread = page.locator("article.thread")
    expect(thread).to_have_count(1)
    expect(thread.locator(".mention")).to_have_text("@carol")
    expect(box).to_have_value("")

    reply = thread.get_by_label("Reply in the thread by bob")
    reply.fill('Also: <script>window.pwned = 1</script><img src=x onerror="window.pwned = 1">')
    reply.press("Tab")  # to the Reply button, and send with the keyboard
    page.keyboard.press("Enter")
    expect(thread.locator(".comment")).to_have_count(2)
    button = thread.get_by_role("button", name="Reply", exact=True)
    expect(button).to_be_focused()  # the swapped-in thread keeps the keyboard's place
    expect(thread.locator(".comment").nth(1)).to_contain_text("Also:")

    last = page.locator("article.thread .comment").nth(1)
    last.locator("summary", has_text="Edit").click()
    last.get_by_label("Your comment").fill("Also: the p99 latency is 40 ms.")
    last.get_by_role("button", name="Save").click()
    edited = page.locator("article.thread .comment").nth(1)
    expect(edited).to_contain_text("the p99 latency is 40 ms.")
    expect(edited.get_by_role("link", name="edited")).to_be_visible()

    assert page.evaluate("window.sameDocument") is True  # no reload happened
    assert page.evaluate("window.pwned") is None
    mentions = Notification.objects.filter(event=Event.MENTION)
    assert list(mentions.values_list("recipient__username", flat=True)) == ["carol"]
    tab.assert_stayed_local_and_quiet()


def test_a_refused_reply_says_why_beside_the_form_and_keeps_the_text(tab, people, teams):
    alice = people["alice"]
    pushed_version(alice, registered_model(alice, teams["fraud"], "fraud-detector"))
    thread = services.start_thread(
        author=people["bob"], kind="model", anchor_id="fraud-detector", body="Ready?"
    )
    tab.log_in("carol", PASSWORD)
    tab.open("/models/fraud-detector/")
    reply = tab.page.get_by_label("Reply in the thread by bob")
    reply.fill("   ")  # passes the browser's `required`, not the server
    tab.page.get_by_role("button", name="Reply", exact=True).click()
    expect(tab.page.locator(f"#reply-{thread.pk}-errors")).to_have_text(
        "Write something: a comment cannot be empty."
    )
    expect(reply).to_have_value("   ")
    reply.fill("Ready.")
    tab.page.get_by_role("button", name="Reply", exact=True).click()
    expect(tab.page.locator(f"#thread-{thread.pk} .comment")).to_have_count(2)
    expect(tab.page.locator(f"#reply-{thread.pk}-errors")).to_be_empty()
    # The browser logs the refused request itself; nothing else may be logged.
    assert [e for e in tab.console_errors if "400" not in e] == []
    assert tab.foreign_requests == []

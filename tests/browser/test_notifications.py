"""In real Chromium: carol watches a model, hears of its promotion, and reads it in her inbox,
all without a page reload, with the keyboard, and without scrolling sideways at 1024 px."""

import pytest
from playwright.sync_api import expect

from registry.models import Stage

from ..page_factories import PASSWORD, pushed_version, registered_model
from ..promotions import promote

pytestmark = pytest.mark.browser


def test_carol_watches_hears_of_a_promotion_and_marks_it_read(tab, people, teams):
    alice, bob = people["alice"], people["bob"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    version = pushed_version(alice, model)

    tab.log_in("carol", PASSWORD)
    tab.open("/models/fraud-detector/")
    tab.page.evaluate("window.stillTheSamePage = true")
    tab.page.get_by_role("button", name="Watch", exact=True).click()
    expect(tab.page.locator("#watch-panel")).to_contain_text("1 watching")
    expect(tab.page.get_by_role("button", name="Unwatch")).to_be_focused()
    assert tab.page.evaluate("window.stillTheSamePage") is True

    promote(version, Stage.PRODUCTION, author=alice, approver=bob)

    tab.open("/notifications/")
    nav = tab.page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Notifications 1 unread")).to_be_visible()
    line = tab.page.locator(".inbox-line")
    expect(line).to_have_class("inbox-line inbox-line--unread")
    expect(line.get_by_role("link")).to_have_text("fraud-detector v1 is now in production")
    tab.page.evaluate("window.stillTheSamePage = true")
    mark = line.get_by_role("button", name="Mark read")
    mark.focus()
    tab.page.keyboard.press("Enter")
    expect(line).to_have_class("inbox-line")
    expect(nav.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    assert tab.page.evaluate("window.stillTheSamePage") is True

    line.get_by_role("link").click()
    tab.page.wait_for_url(f"{tab.base_url}/models/fraud-detector/versions/1/")

    tab.page.set_viewport_size({"width": 1024, "height": 800})
    for path in ("/notifications/", "/settings/notifications/", "/models/fraud-detector/"):
        tab.open(path)
        assert tab.page.evaluate("document.documentElement.scrollWidth") <= 1024, path
    tab.assert_stayed_local_and_quiet()

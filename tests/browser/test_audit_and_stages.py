"""In real Chromium: bob archives a version with a reason, and the audit log tells who, how and
why (staging and production are reached through requests: test_promotion_flow.py)."""

import pytest
from playwright.sync_api import expect

from registry.models import ModelVersion

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


def test_bob_archives_with_a_reason_and_finds_it_in_the_audit_log(tab, people, teams):
    alice = people["alice"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    pushed_version(alice, model)

    tab.log_in("bob", PASSWORD)
    tab.open("/models/fraud-detector/versions/1/")
    tab.page.get_by_label("Stage", exact=True).select_option("archived")
    tab.page.get_by_label("Why this move").fill("shadow traffic looked fine")
    tab.page.get_by_role("button", name="Move").click()
    expect(tab.page.locator(".messages")).to_contain_text("now in Archived")
    assert ModelVersion.objects.get(number=1).stage == "archived"

    tab.page.get_by_role("link", name="fraud-detector").first.click()
    tab.page.get_by_role("link", name="History").click()
    rows = tab.page.locator("table tbody tr")
    expect(rows.first).to_contain_text("stage.moved")
    expect(rows.first).to_contain_text("bob")
    expect(rows.first).to_contain_text("shadow traffic looked fine")
    expect(rows.first).to_contain_text("stage: none → stage: archived")

    tab.page.get_by_label("Who").fill("alice")
    tab.page.get_by_role("button", name="Filter").click()
    expect(tab.page.locator("table tbody")).not_to_contain_text("stage.moved")
    expect(tab.page.locator("table tbody")).to_contain_text("version.registered")
    tab.assert_stayed_local_and_quiet()

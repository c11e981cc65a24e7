"""In real Chromium: a model's History tab, filtered by what happened, exported as CSV."""

import csv

import pytest
from playwright.sync_api import expect

from registry import services

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


def test_alice_filters_the_history_by_verb_and_exports_those_rows(
    tab, people, teams, registry_alone
):
    alice, bob = people["alice"], people["bob"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    first, second = pushed_version(alice, model), pushed_version(alice, model)
    services.set_stage(actor=bob, version=first, stage="staging", reason="shadow traffic fine")
    services.set_stage(actor=bob, version=second, stage="production", reason="a/b test won")
    registered_model(people["mallory"], teams["growth"], "churn")

    tab.log_in("alice", PASSWORD)
    tab.open("/models/fraud-detector/")
    tab.page.get_by_role("navigation", name="fraud-detector").get_by_role(
        "link", name="History"
    ).click()
    expect(tab.page).to_have_url(tab.base_url + "/models/fraud-detector/history/")
    rows = tab.page.locator("table tbody tr")
    expect(rows).to_have_count(5)

    tab.page.get_by_label("What").select_option("stage.moved")
    tab.page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("moved the version to Production")
    expect(rows.first).to_contain_text("a/b test won")
    expect(rows.nth(1)).to_contain_text("moved the version to Staging")
    expect(tab.page.get_by_label("What")).to_have_value("stage.moved")

    with tab.page.expect_download() as download:
        tab.page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    with open(download.value.path(), newline="", encoding="utf-8") as exported:
        lines = list(csv.DictReader(exported))
    assert [(line["verb"], line["object"], line["reason"]) for line in lines] == [
        ("stage.moved", "fraud-detector v2", "a/b test won"),
        ("stage.moved", "fraud-detector v1", "shadow traffic fine"),
    ]
    tab.assert_stayed_local_and_quiet()

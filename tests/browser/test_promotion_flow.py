"""A promotion in Chromium: alice requests it on the version page, bob approves and merges, and
an app asking for production gets the new version."""

from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts import services as account_services

from ..page_factories import PASSWORD, pushed_version, registered_model


def test_request_approve_merge_and_resolve(tab, people, teams):
    alice, carol = people["alice"], people["carol"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    pushed_version(alice, model, metrics={"auc": 0.93})

    tab.log_in("alice", PASSWORD)
    tab.open("/models/fraud-detector/versions/1/")
    tab.page.get_by_label("Promote to").select_option("production")
    tab.page.get_by_label("Message").fill("Better recall on March data")
    tab.page.get_by_role("button", name="Open request").click()
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("#1 fraud-detector v1")
    expect(tab.page.locator("#status")).to_contain_text("needs 1 DevOps approval")
    tab.page.get_by_role("button", name="Log out").click()

    tab.log_in("bob", PASSWORD)
    expect(tab.page.locator("#waiting")).to_contain_text("fraud-detector v1")
    tab.page.locator("#waiting").get_by_role("link", name="#1").click()
    tab.page.get_by_label("Approve").check()
    tab.page.get_by_label("Message").fill("Checked the dashboards")
    tab.page.get_by_role("button", name="Submit review").click()
    expect(tab.page.locator("#status")).to_contain_text("Ready to merge")
    expect(tab.page.locator("#conversation")).to_contain_text("Checked the dashboards")
    tab.page.get_by_role("button", name="Merge: promote to production").click()
    expect(tab.page.locator(".messages")).to_contain_text("now in production")

    tab.page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(tab.page.locator("#request-region")).to_contain_text("No requests here.")
    tab.page.evaluate("window.sameDocument = true")
    tab.page.get_by_role("link", name="Merged and closed").click()  # swapped in place by htmx
    expect(tab.page.locator("#request-region")).to_contain_text("fraud-detector v1")
    assert tab.page.evaluate("window.sameDocument") is True

    _, token = account_services.create_token(user=carol, name="app", scopes=["read"])
    app = APIClient()
    app.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    resolved = app.get("/api/v1/models/fraud-detector/stages/production")
    assert resolved.status_code == 200 and resolved.json()["version"] == 1
    tab.assert_stayed_local_and_quiet()

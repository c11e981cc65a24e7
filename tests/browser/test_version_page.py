"""The version page in real Chromium: copying how to fetch the version, from the keyboard."""

import pytest
from playwright.sync_api import expect

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


def test_alice_copies_the_pull_command_and_the_api_address_with_the_keyboard(tab, alice, teams):
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    pushed_version(alice, model, files=[("model.pkl", b"weights")])
    tab.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tab.base_url)
    tab.log_in("alice", PASSWORD)
    tab.open("/models/fraud-detector/versions/1/")

    for name, shown in (
        (
            "Copy the pull command",
            f"vetted --url {tab.base_url} pull fraud-detector --version 1 -o fraud-detector-v1",
        ),
        ("Copy the API address", f"{tab.base_url}/api/v1/models/fraud-detector/versions/1/"),
    ):
        tab.page.get_by_role("button", name=name).focus()
        button = tab.page.locator("button:focus")  # its name changes once it has copied
        tab.page.keyboard.press("Enter")
        expect(button).to_have_text("Copied")
        assert tab.page.evaluate("navigator.clipboard.readText()") == shown
    tab.assert_stayed_local_and_quiet()


def test_without_javascript_the_command_is_there_to_select_and_no_dead_button(tab, alice, teams):
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    pushed_version(alice, model)
    tab.log_in("alice", PASSWORD)
    tab.page.context.route("**/app.js", lambda route: route.abort())
    tab.open("/models/fraud-detector/versions/1/")
    expect(tab.page.locator("#pull-command")).to_contain_text("pull fraud-detector --version 1")
    expect(tab.page.get_by_role("button", name="Copy the pull command")).to_be_hidden()

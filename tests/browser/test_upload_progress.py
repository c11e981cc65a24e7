"""A file sent from a form shows its progress, then the page the server answers, in real Chromium.

The request is held at the network layer while the test looks, so what a person sees during a
slow upload or a long check is seen here on a fast loopback too.
"""

import pytest
from playwright.sync_api import expect

from monitoring.models import Dataset

from ..conftest import PASSWORD
from ..monitoring_datasets import NAME, fraud_model, transactions

pytestmark = pytest.mark.browser


def held_posts(tab, path: str) -> list:
    """Hold every POST to `path` until the test lets it go (route.continue_())."""
    held = []

    def hold(route):
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()

    tab.page.route(tab.base_url + path, hold)
    return held


def test_a_data_upload_shows_its_progress_then_the_stored_data(tab, people, teams, tmp_path):
    model = fraud_model(people["alice"], teams["fraud"])
    data = tmp_path / "holdout.csv"
    transactions(rows=5000).to_csv(data, index=False)
    tab.page.set_viewport_size({"width": 1024, "height": 800})
    tab.log_in("alice", PASSWORD)
    path = f"/models/{NAME}/datasets/"
    tab.open(path)
    held = held_posts(tab, path)

    form = tab.page.get_by_role("form", name="Upload data")
    form.get_by_label("File").set_input_files(data)
    form.get_by_label("Kind").select_option("evaluation")
    form.get_by_label("Label").fill("is_fraud")
    form.get_by_role("button", name="Upload").click()

    progress = form.get_by_role("status")
    expect(progress).to_contain_text("Upload")
    expect(progress.locator("progress")).to_be_visible()
    expect(form.get_by_role("button", name="Upload")).to_be_disabled()
    assert tab.page.url == tab.base_url + path and not Dataset.objects.exists()

    for _ in range(100):  # Playwright hands the held request over while the test waits
        if held:
            break
        tab.page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    dataset_row = tab.page.locator("tr[id^=dataset-]")
    expect(dataset_row).to_have_count(1, timeout=20_000)
    dataset = Dataset.objects.get(model=model)
    stored = f"Stored evaluation data #{dataset.pk}: 5000 rows."
    expect(tab.page.get_by_text(stored)).to_be_visible()
    expect(tab.page).to_have_url(tab.base_url + path)
    assert dataset.row_count == 5000
    tab.assert_stayed_local_and_quiet()


def test_a_refused_file_shows_the_form_with_the_reason(tab, people, teams, tmp_path):
    fraud_model(people["alice"], teams["fraud"])
    data = tmp_path / "short.csv"
    transactions().drop(columns="amount").to_csv(data, index=False)
    tab.log_in("alice", PASSWORD)
    tab.open(f"/models/{NAME}/datasets/")

    form = tab.page.get_by_role("form", name="Upload data")
    form.get_by_label("File").set_input_files(data)
    form.get_by_role("button", name="Upload").click()

    expect(tab.page.get_by_role("alert")).to_contain_text("missing columns")
    expect(tab.page.get_by_role("alert")).to_contain_text("amount")
    assert not Dataset.objects.exists()
    # The page that came back works as any page: the form sends again.
    again = tab.page.get_by_role("form", name="Upload data").get_by_role("button", name="Upload")
    expect(again).to_be_enabled()
    assert tab.foreign_requests == []
    # Chromium reports the 400 itself, as it does for any request answered so; nothing else.
    assert tab.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]

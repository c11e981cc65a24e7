"""The registry in real Chromium: log in, search, open a model, watch a load check, compare."""

import re
import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from registry.models import LoadStatus, Stage
from registry.tasks import run_load_check
from tests.promotions import promote

from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


@pytest.fixture
def catalogue(people, teams):
    alice, bob = people["alice"], people["bob"]
    fraud = registered_model(
        alice, teams["fraud"], "fraud-detector", description="Scores card payments."
    )
    pushed_version(alice, fraud, params={"C": 1.0, "seed": 7}, metrics={"auc": 0.90})
    pushed_version(alice, fraud, params={"C": 0.5, "seed": 7}, metrics={"auc": 0.95})
    promote(fraud.versions.get(number=2), Stage.PRODUCTION, author=alice, approver=bob)
    registered_model(alice, teams["fraud"], "churn-forecast", task_type="forecasting")
    return fraud


def test_alice_logs_in_searches_and_opens_a_model(tab, catalogue):
    tab.log_in("alice", PASSWORD)
    tab.page.get_by_role("link", name="Models", exact=True).click()
    table = tab.page.locator("#model-table")
    expect(table.get_by_role("link", name="churn-forecast")).to_be_visible()
    expect(table.get_by_text("Production v2")).to_be_visible()

    tab.page.get_by_label("Search").fill("card")
    expect(table.get_by_role("link", name="churn-forecast")).to_have_count(0)
    expect(tab.page).to_have_url(re.compile(r"\?search=card"))

    table.get_by_role("link", name="fraud-detector").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("fraud-detector")
    expect(tab.page.locator(".prose")).to_have_text("Scores card payments.")
    tab.assert_stayed_local_and_quiet()


def check_in_background(check_id):
    """The real Celery task, run as a worker would while the page keeps polling."""
    try:
        run_load_check.apply(args=[check_id])
    finally:
        connection.close()


def test_the_load_check_turns_green_without_a_reload(
    tab, alice, catalogue, sklearn_model_dir, needs_bubblewrap
):
    files = [
        (str(path.relative_to(sklearn_model_dir)), path.read_bytes())
        for path in sorted(sklearn_model_dir.rglob("*"))
        if path.is_file()
    ]
    version = pushed_version(alice, catalogue, files=files)
    tab.log_in("alice", PASSWORD)
    tab.open(f"/models/{catalogue.name}/versions/{version.number}/")
    check = tab.page.locator("#load-check")
    expect(check).to_contain_text("Load check queued")
    tab.page.evaluate("window.sameDocument = true")

    worker = threading.Thread(target=check_in_background, args=(version.latest_load_check_id,))
    worker.start()
    expect(check).to_contain_text("Loads and predicts", timeout=90_000)
    worker.join()

    expect(check).to_have_class(re.compile("load-check--passed"))
    expect(check).to_contain_text("prediction shape (3)")
    expect(check).to_contain_text("Ran in the sandbox: bubblewrap: no network")
    assert tab.page.evaluate("window.sameDocument") is True
    version.refresh_from_db()
    assert version.load_status == LoadStatus.PASSED
    tab.assert_stayed_local_and_quiet()


def test_bob_compares_two_versions_and_sees_the_differences(tab, catalogue):
    tab.log_in("bob", PASSWORD)
    tab.open(f"/models/{catalogue.name}/")
    tab.page.get_by_label("Compare", exact=True).select_option("1")
    tab.page.get_by_label("with").select_option("2")
    tab.page.get_by_role("button", name="Compare").click()

    expect(tab.page.get_by_role("heading", name="Compare versions")).to_be_visible()
    metrics = tab.page.get_by_role("region", name="Metrics")
    expect(metrics.locator("tr.differs")).to_contain_text(["auc"])
    expect(metrics.locator("tr.differs")).to_contain_text("+0.05")
    params = tab.page.get_by_role("region", name="Parameters")
    expect(params.locator("tr.differs")).to_contain_text(["C"])
    expect(params.locator("tbody tr:not(.differs)")).to_contain_text(["seed"])
    row = params.locator("tr.differs")
    background = row.evaluate("row => getComputedStyle(row).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    tab.assert_stayed_local_and_quiet()

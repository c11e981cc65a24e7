"""Monitoring's whole path in real Chromium, with a real worker and a real SMTP server on loopback.

alice's CI uploads the credit model's reference and held-out data; v1 is in production and the
team's production policy asks for ROC AUC, PSI and disparate impact checks. alice registers v2 in
the browser: the worker checks that it loads and evaluates it beside production; her promotion
request shows the checks pending, then passed or failed, each linking to its evaluation, whose
charts draw. She watches the model and makes a monitor in the browser whose critical rule the
latest production batch breaks; "Run now" makes the worker evaluate it, the alert shows on
/alerts/, and its e-mail reaches the SMTP server with the model's name and a link to it.
"""

import io
import time

import numpy as np
import pytest
from playwright.sync_api import expect
from sklearn import metrics as sk

from monitoring.models import EvaluationRun
from registry.models import ModelVersion

from .. import mail, monitoring_datasets
from ..conftest import PASSWORD, tar_gz_of
from ..monitoring_datasets import FEATURES, credit_frame
from ..promotions import promote
from ..workers import Worker, push, wait_for_checks

# Fixtures of those modules: the credit model (MLflow folder, estimator), an SMTP server.
credit_model = monitoring_datasets.credit_model
smtp = mail.smtp
smtp_port = mail.smtp_port

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CHECKS = [
    {"kind": "evaluation_metric", "metric": "roc_auc", "op": ">=", "value": 0.75},
    {"kind": "drift_psi", "max_psi": 0.2},
    {"kind": "fairness_ratio", "min_ratio": 0.8},
]
SHIFT = 8.0  # the held-out data's income, against the reference's: its PSI is past 0.2
DEADLINE = 120  # seconds for the worker to answer, on a busy 2-core machine


def upload(client, frame, kind: str, **roles) -> dict:
    file = io.BytesIO(frame.to_csv(index=False).encode())
    file.name = f"{kind}.csv"
    answer = client.post(
        "/api/v1/models/credit/datasets/", {"file": file, "kind": kind, **roles}, format="multipart"
    )
    assert answer.status_code == 201, answer.json()
    return answer.json()


def reload_until(tab, locator: str, text: str, worker: Worker) -> None:
    """Reload the page until `locator` holds `text`, as a person waiting on the worker does."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            expect(tab.page.locator(locator)).to_contain_text(text, timeout=1_500)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError("".join(worker.log[-40:])) from None
            tab.page.reload()


def fits_the_window(tab) -> bool:
    return tab.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_a_new_version_is_checked_and_a_monitor_alerts_by_email(
    tab, people, api_as, credit_model, smtp, smtp_port, tmp_path
):
    alice, bob = people["alice"], people["bob"]
    folder, estimator = credit_model
    mailbox = smtp.start()
    worker = Worker(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), SITE_URL=tab.base_url)
    try:
        # CI: v1 and the model's data, then v1 to production and the team's policy.
        ci = api_as(alice)
        push(ci, "credit", folder)
        upload(ci, credit_frame(600, seed=3), "reference", label="y", protected="group")
        holdout = credit_frame(600, seed=2, shift=SHIFT)
        upload(ci, holdout, "evaluation", label="y", protected="group")
        assert wait_for_checks(["credit"])["credit"].status == "passed"
        promote(ModelVersion.objects.get(number=1), "production", author=alice, approver=bob)
        policy = {"to_stage": "production", "required_approvals": 1, "checks": CHECKS}
        assert ci.put("/api/v1/teams/fraud/policies/", policy, format="json").status_code == 200

        # alice registers v2 in the browser and asks for production at once.
        archive = tmp_path / "credit-v2.tar.gz"
        archive.write_bytes(tar_gz_of(folder))
        tab.page.set_viewport_size({"width": 1024, "height": 800})
        tab.log_in("alice", PASSWORD)
        tab.open("/models/credit/")
        tab.page.get_by_role("link", name="Register a version").click()
        tab.page.get_by_label("Or one archive").set_input_files(archive)
        tab.page.get_by_role("button", name="Register").click()
        expect(tab.page).to_have_url(tab.base_url + "/models/credit/versions/2/")
        tab.page.get_by_label("Promote to").select_option("production")
        tab.page.get_by_label("Message").fill("Retrained on the spring data")
        tab.page.get_by_role("button", name="Open request").click()
        expect(tab.page.get_by_role("heading", level=1)).to_contain_text("credit v2")
        checks = tab.page.locator("#checks li")
        expect(checks).to_have_count(3)
        expect(tab.page.locator("#checks .check-result--pending").first).to_be_visible()

        # The worker checks that v2 loads, then evaluates it: the checks get their answers,
        # and the page, which looks again while any waits, shows them without a reload.
        request_page = tab.page.url
        try:
            expect(tab.page.locator("#checks .check-result--pending")).to_have_count(
                0, timeout=DEADLINE * 1000
            )
        except AssertionError:
            raise AssertionError("".join(worker.log[-40:])) from None
        tab.page.wait_for_load_state()  # the reload that follows the last answer
        score = estimator.predict_proba(holdout[FEATURES])[:, 1]
        roc_auc = sk.roc_auc_score(holdout["y"], score)
        expect(checks.nth(0)).to_have_class("check-result check-result--pass")
        expect(checks.nth(0)).to_contain_text(f"ROC AUC ≥ 0.75 ({roc_auc:.4g})")
        expect(checks.nth(1)).to_have_class("check-result check-result--fail")
        expect(checks.nth(1)).to_contain_text("PSI ≥ 0.2 against the reference (income")
        expect(checks.nth(2)).to_have_class("check-result check-result--pass")
        v2 = ModelVersion.objects.get(number=2)
        assert v2.latest_load_check.status == "passed"
        runs = EvaluationRun.objects.filter(version=v2, trigger="upload", status="done")
        assert sorted(runs.values_list("kind", flat=True)) == ["drift", "fairness", "performance"]

        # The evidence: the performance run's page, its charts drawn, in a 1024 px window.
        checks.nth(0).get_by_role("link").click()
        performance = runs.get(kind="performance")
        expect(tab.page).to_have_url(f"{tab.base_url}/evaluations/{performance.pk}/")
        # v2 beside production v1, the confusion matrix, ROC and calibration curves.
        expect(tab.page.locator(".js-plotly-plot")).to_have_count(4)
        assert fits_the_window(tab)
        tab.page.goto(request_page)
        checks.nth(1).get_by_role("link").click()
        expect(tab.page.get_by_role("heading", name="Data drift", exact=True)).to_be_visible()
        expect(tab.page.locator(".js-plotly-plot").first).to_be_visible()
        assert fits_the_window(tab)

        # Production's latest batch: labels have come in, and v1's scores no longer rank them.
        batch = credit_frame(300, seed=9)
        rng = np.random.default_rng(9)
        batch["score"] = rng.random(len(batch))
        batch["predicted"] = (batch["score"] > 0.5).astype(int)
        upload(ci, batch, "batch", label="y", prediction="predicted", score="score")
        batch_auc = sk.roc_auc_score(batch["y"], batch["score"])
        assert batch_auc < 0.8

        # alice watches the model and makes a monitor whose critical rule that batch breaks.
        tab.open("/models/credit/")
        tab.page.get_by_role("button", name="Watch").click()
        expect(tab.page.locator("#watch-button")).to_have_text("Unwatch")
        tab.page.get_by_role("navigation", name="credit").get_by_role(
            "link", name="Monitoring"
        ).click()
        tab.page.get_by_role("link", name="New monitor").click()
        tab.page.get_by_label("Name").fill("production quality")
        tab.page.get_by_label("Performance").check()
        tab.page.get_by_label("Rules").fill("roc_auc >= 0.85 0.8")
        tab.page.get_by_role("button", name="Make the monitor").click()
        expect(tab.page.locator(".messages")).to_contain_text("Monitor production quality made")
        tab.page.get_by_role("button", name="Run now").click()
        expect(tab.page.locator(".messages")).to_contain_text("Asked for 1 evaluation(s)")

        # The worker evaluates v1 on the batch and opens the alert, which shows on /alerts/.
        tab.page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
        reload_until(tab, "main", "roc_auc is", worker)
        row = tab.page.locator("tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Critical")
        expect(row).to_contain_text(f"roc_auc is {batch_auc:.4g}, should be ≥ 0.8")
        expect(row).to_contain_text("credit v1")

        # Its e-mail, critical, goes out at once through the outbox (the worker's sender).
        deadline = time.monotonic() + DEADLINE
        while not [m for m in mailbox.messages if "Critical" in m["Subject"]]:
            assert time.monotonic() < deadline, "".join(worker.log[-40:])
            time.sleep(0.2)
    finally:
        worker.stop()

    (mail,) = [m for m in mailbox.messages if "Critical" in m["Subject"]]
    assert mail["To"] == alice.email
    assert mail["Subject"].strip().startswith("[Vetted] Critical: credit v1: roc_auc is")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = f"{tab.base_url}/alerts/?model=credit"
    assert link in text
    tab.page.goto(link)  # the e-mail's link, followed
    expect(tab.page.locator("tbody tr")).to_contain_text("roc_auc is")
    tab.assert_stayed_local_and_quiet()

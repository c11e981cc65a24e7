"""In real Chromium: the monitoring charts draw under the strict CSP, fit a 1024 px window, and a
running evaluation's page turns into its results when the run ends."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring.models import Alert, Monitor, RunStatus

from .. import monitoring_pages_factories as make
from ..page_factories import PASSWORD, pushed_version, registered_model

pytestmark = pytest.mark.browser


def fits_the_window(tab) -> bool:
    return tab.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


OVERLAPS = """() => {
    const box = (el) => el.getBoundingClientRect();
    const meet = (a, b) =>
        a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const found = [];
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
        const legend = plot.querySelector(".legend");
        if (!legend) continue;
        const titles = plot.querySelectorAll(".g-xtitle text, .g-ytitle text, .g-gtitle text");
        for (const text of titles) {
            if (meet(box(legend), box(text))) found.push(text.textContent);
        }
    }
    return found;
}"""


def titles_under_legends(tab) -> list[str]:
    """The axis and figure titles a chart's legend is drawn over, in every chart of the page."""
    return tab.page.evaluate(OVERLAPS)


def test_alice_reads_the_monitoring_charts_and_watches_a_run_finish(tab, people, teams):
    alice = people["alice"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    v1 = pushed_version(alice, model, metrics={"auc": 0.91, "f1": 0.8})
    v2 = pushed_version(alice, model, metrics={"auc": 0.93, "f1": 0.82})
    holdout, reference = make.dataset(model), make.dataset(model, "reference")
    for day in range(4):
        batch = make.dataset(model, "batch", observed_at=timezone.now() - timedelta(days=4 - day))
        make.run(
            v1,
            "performance",
            batch,
            metrics=make.classification_metrics(seed=day),
            ago=timedelta(days=4 - day),
        )
        make.run(
            v1,
            "drift",
            batch,
            reference=reference,
            metrics=make.drift_metrics(),
            ago=timedelta(days=4 - day),
        )
    baseline = make.run(v1, "performance", holdout, metrics=make.classification_metrics(5))
    performance = make.run(
        v2, "performance", holdout, metrics=make.classification_metrics(9), baseline=baseline
    )
    running = make.run(v2, "fairness", holdout, status=RunStatus.RUNNING)
    monitor = Monitor.objects.create(
        model=model,
        name="daily quality",
        kinds=["performance"],
        rules=[{"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8}],
    )
    Alert.objects.create(
        monitor=monitor,
        version=v1,
        rule_key="roc_auc>=",
        level="critical",
        message="ROC AUC 0.78 < 0.8",
        value=0.78,
        threshold=0.8,
    )
    tab.page.set_viewport_size({"width": 1024, "height": 800})
    tab.log_in("alice", PASSWORD)

    tab.open("/models/fraud-detector/")
    expect(tab.page.locator(".js-plotly-plot")).to_have_count(2)  # auc and f1 across versions
    tab.page.get_by_role("navigation", name="fraud-detector").get_by_role(
        "link", name="Monitoring"
    ).click()
    expect(tab.page).to_have_url(tab.base_url + "/models/fraud-detector/monitoring/")
    expect(tab.page.get_by_text("Critical", exact=True)).to_be_visible()
    # 4 timelines, the heatmap, and v1 beside v2 on the holdout (ROC AUC, F1, accuracy, log loss)
    expect(tab.page.locator(".js-plotly-plot")).to_have_count(9)
    expect(tab.page.locator(".js-plotly-plot .heatmaplayer")).to_have_count(1)
    assert titles_under_legends(tab) == []
    assert fits_the_window(tab)

    tab.open(f"/evaluations/{performance.pk}/")
    # The comparison with production, the confusion matrix, ROC and calibration curves.
    expect(tab.page.locator(".js-plotly-plot")).to_have_count(4)
    expect(tab.page.locator(".js-plotly-plot .legend")).to_have_count(3)
    assert titles_under_legends(tab) == []
    assert fits_the_window(tab)

    tab.open(f"/evaluations/{running.pk}/")
    expect(tab.page.get_by_role("heading", name="Running")).to_be_visible()
    running.status, running.finished_at = RunStatus.DONE, timezone.now()
    running.metrics = make.fairness_metrics()
    running.save()
    # The progress block's next poll reloads the page with the results.
    expect(tab.page.get_by_role("heading", name="Fairness", exact=True)).to_be_visible()
    expect(tab.page.locator(".js-plotly-plot")).to_have_count(2)  # selection rates, TPR / FPR
    assert fits_the_window(tab)
    tab.assert_stayed_local_and_quiet()

"""The demo's monitor: on top of the demo's monitoring data, its first runs open alerts, so
`make run` shows one on first start."""

import pytest
from django.utils import timezone

from monitoring.demo import (
    DEMO_MONITOR,
    DEMO_POLICY_CHECKS,
    seed_demo_monitor,
    seed_demo_policy_checks,
    seed_monitoring_demo,
)
from monitoring.models import Alert, EvaluationRun, Monitor
from monitoring.tasks import run_evaluation
from registry.demo import seed_demo
from registry.tasks import run_load_check
from reviews import checks as review_checks
from reviews import demo as reviews_demo
from reviews import selectors
from reviews.models import PromotionRequest


@pytest.mark.django_db
def test_the_demo_monitor_s_first_runs_open_alerts():
    seed_demo()
    seed_monitoring_demo(today=timezone.now())
    lines: list[str] = []
    runs = seed_demo_monitor(lines.append)
    assert lines == [
        f"fraud-detector: monitor {DEMO_MONITOR!r}, 12 past weekly evaluation(s) run,"
        f" {len(runs)} evaluation(s) queued"
    ]
    assert {run.kind for run in runs} == {"performance", "drift", "fairness"}
    monitor = Monitor.objects.get(name=DEMO_MONITOR)
    assert monitor.periodic_task.enabled

    for run in runs:
        run_evaluation(run.pk)
    ended = EvaluationRun.objects.filter(monitor=monitor)
    assert all(run.status == "done" for run in ended), [run.error for run in ended]
    opened = {alert.rule_key: alert.level for alert in Alert.objects.filter(monitor=monitor)}
    # The drift of the last weeks and the young customers' gap both break their rules.
    assert {"share_drifted <=", "min_disparate_impact_ratio >="} <= set(opened), opened
    assert "critical" in opened.values()
    production = ended.filter(version__stage="production").order_by("dataset__observed_at")
    # Four weeks of production, one run of each kind a week, the drift growing week by week.
    drift = [run.metrics["summary"]["share_drifted"] for run in production.filter(kind="drift")]
    assert len(drift) == 4 and drift[0] == 0 and drift == sorted(drift) and drift[-1] > 0.2
    roc_auc = [r.metrics["summary"]["roc_auc"] for r in production.filter(kind="performance")]
    # Healthy before the drift: the live scores rank as well as the versions did when pushed.
    assert len(roc_auc) == 4 and roc_auc[0] >= 0.85, roc_auc
    days = [run.dataset.observed_at for run in production.filter(kind="drift")]
    assert [(b - a).days for a, b in zip(days, days[1:], strict=False)] == [7, 7, 7]
    fair = production.filter(kind="fairness").last()
    attributes = [attribute["name"] for attribute in fair.metrics["attributes"]]
    assert attributes == ["age_band", "region", "age_band × region"]

    assert seed_demo_monitor() == []  # once


@pytest.mark.django_db
def test_the_demo_request_shows_the_monitoring_checks_with_their_evidence():
    reviews_demo.seed_demo()
    open_request = PromotionRequest.objects.get(version__number=4, state="open")
    # v4 loaded before there was evaluation data: the seed asks for its evaluations itself.
    run_load_check(open_request.version.latest_load_check_id)
    seed_monitoring_demo(today=timezone.now())
    lines: list[str] = []
    added = seed_demo_policy_checks(lines.append)
    assert added == DEMO_POLICY_CHECKS
    assert lines == ["fraud-detector: production policy checks 3 evaluation result(s) too"]
    assert selectors.policy_of(open_request).aliases == ("champion",)  # kept by the checks' seed
    specs = selectors.policy_of(open_request).checks
    assert [spec["kind"] for spec in specs] == [
        "metric_threshold",
        "evaluation_metric",
        "drift_psi",
        "fairness_ratio",
    ]

    def monitoring_results():
        return review_checks.evaluate(open_request, specs)[1:]

    assert [r.state for r in monitoring_results()] == ["pending"] * 3
    for run in EvaluationRun.objects.filter(status="pending"):
        run_evaluation(run.pk)  # what the worker does
    results = monitoring_results()
    assert [r.name for r in results] == [
        "ROC AUC ≥ 0.85",
        "no feature with PSI ≥ 0.2 against the reference",
        "disparate impact ratio ≥ 0.8 for every group",
    ]
    for result in results:
        assert result.state in ("pass", "fail"), result
        run = EvaluationRun.objects.get(pk=int(result.url.strip("/").split("/")[-1]))
        assert run.version_id == open_request.version_id and run.status == "done"
        assert run.trigger == "upload" and run.dataset.kind == "evaluation"

    assert seed_demo_policy_checks() == []  # once

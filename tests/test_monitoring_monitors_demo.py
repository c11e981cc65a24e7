"""The demo's monitor: on top of the demo's monitoring data, its first runs open alerts, so
`make run` shows one on first start."""

import pytest
from django.utils import timezone

from monitoring.demo import DEMO_MONITOR, seed_demo_monitor, seed_monitoring_demo
from monitoring.models import Alert, EvaluationRun, Monitor
from monitoring.tasks import run_evaluation
from registry.demo import seed_demo


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
    assert production.filter(kind="performance").count() == 4
    days = [run.dataset.observed_at for run in production.filter(kind="drift")]
    assert [(b - a).days for a, b in zip(days, days[1:], strict=False)] == [7, 7, 7]
    fair = production.filter(kind="fairness").last()
    attributes = [attribute["name"] for attribute in fair.metrics["attributes"]]
    assert attributes == ["age_band", "region", "age_band × region"]

    assert seed_demo_monitor() == []  # once

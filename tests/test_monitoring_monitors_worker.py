"""A monitor's schedule on a real Celery worker and Redis: what beat sends for the monitor's
PeriodicTask makes the worker ask for the evaluations, run them, and open the alert."""

import json
import time

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from monitoring.models import Alert, EvaluationRun
from tests.monitoring_watch import a_monitor, batch, model_in_production
from tests.workers import start_worker  # noqa: F401 - a fixture
from vetted.celery import app

ACCURACY_RULE = {"metric": "accuracy", "op": ">=", "warning": 0.95, "critical": 0.9}


def test_what_beat_sends_for_a_monitor_ends_in_runs_and_an_alert(
    start_worker,  # noqa: F811 - the fixture imported above
    people,
    teams,
):
    alice, bob = people["alice"], people["bob"]
    model = model_in_production(alice, bob, teams["fraud"])
    batch(alice, model)
    monitor = a_monitor(bob, model, rules=[ACCURACY_RULE], kinds=["performance", "fairness"])
    task = PeriodicTask.objects.get(pk=monitor.periodic_task_id)
    # One worker for everything: evaluations routed to the queue it consumes.
    start_worker(MONITORING_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE)

    app.send_task(  # as beat's scheduler sends the PeriodicTask row
        task.task,
        args=json.loads(task.args),
        kwargs=json.loads(task.kwargs),
        queue=settings.CELERY_TASK_DEFAULT_QUEUE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = list(EvaluationRun.objects.filter(monitor=monitor))
        if len(runs) == 2 and all(run.done for run in runs) and Alert.objects.exists():
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no alert: {[(r.kind, r.status, r.error) for r in runs]}")
    assert sorted((r.kind, r.status, r.trigger) for r in runs) == [
        ("fairness", "done", "schedule"),
        ("performance", "done", "schedule"),
    ]
    alert = Alert.objects.get()
    performance = next(r for r in runs if r.kind == "performance")
    assert (alert.run_id, alert.level) == (performance.pk, "critical")
    assert alert.value == performance.metrics["summary"]["accuracy"]

"""A fraud model in production with a production batch, a monitor and finished runs, for the
tests of monitors, alerts, /metrics and the monitoring e-mail."""

import uuid
from datetime import timedelta

from django.utils import timezone

from monitoring import monitors
from monitoring.datasets import store_dataset
from monitoring.models import EvaluationRun, RunStatus
from registry.models import ModelVersion
from tests.monitoring_datasets import csv_file, fraud_model, transactions
from tests.promotions import promote

ROC_RULE = {"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8}


def model_in_production(alice, bob, team):
    """fraud-detector with v1 in production (through a merged request)."""
    model = fraud_model(alice, team)
    promote(
        ModelVersion.objects.get(model=model, number=1), "production", author=alice, approver=bob
    )
    return model


def batch(alice, model, *, days_ago: float = 1.0, rows: int = 200):
    return store_dataset(
        actor=alice,
        model=model,
        file=csv_file(transactions(rows)),
        filename="batch.csv",
        kind="batch",
        observed_at=timezone.now() - timedelta(days=days_ago),
        label="is_fraud",
        prediction="predicted",
        score="score",
        protected=("region",),
    )


def a_monitor(bob, model, rules=(ROC_RULE,), **fields):
    return monitors.create_monitor(
        actor=bob,
        model=model,
        name=fields.pop("name", "daily performance"),
        kinds=fields.pop("kinds", ["performance"]),
        stages=fields.pop("stages", ["production"]),
        rules=list(rules),
        **fields,
    )


def finished_run(
    monitor,
    dataset,
    summary: dict,
    *,
    kind="performance",
    status=RunStatus.DONE,
    duration=2.5,
    version=None,
):
    """A run as the runs' worker leaves it when it ends (its metrics reduced to the summary)."""
    now = timezone.now()
    return EvaluationRun.objects.create(
        version=version or ModelVersion.objects.get(model=monitor.model, number=1),
        kind=kind,
        trigger="schedule",
        dataset=dataset,
        monitor=monitor,
        inputs_key=uuid.uuid4().hex,
        status=status,
        progress=1.0,
        started_at=now - timedelta(seconds=duration),
        finished_at=now,
        duration_seconds=duration,
        metrics={"summary": summary} if status == RunStatus.DONE else {},
        error="" if status == RunStatus.DONE else "the model did not load",
    )

"""Evaluation runs with metrics of the contract's shapes, for the monitoring page tests.

The metrics are monitoring.stats' own results on small generated samples, so the pages draw what
a real run stores.
"""

from datetime import timedelta

import numpy as np
import pandas as pd
from django.utils import timezone

from monitoring.models import Dataset, EvaluationRun, RunStatus
from monitoring.stats import drift, fairness, performance, profile

_ids = iter(range(1, 1_000_000))


def dataset(model, kind="evaluation", rows=500, name="holdout.csv", **fields) -> Dataset:
    return Dataset.objects.create(
        **fields,
        model=model,
        kind=kind,
        name=name,
        storage_name=f"monitoring/datasets/{model.pk}/{next(_ids)}.parquet",
        size=1000,
        sha256="0" * 64,
        row_count=rows,
        schema=[{"name": "amount", "type": "double"}],
    )


def classification_metrics(seed=0, noise=0.35, rows=400) -> dict:
    """monitoring.stats.performance on a scored sample whose scores follow the label."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, rows)
    score = np.clip(y_true * 0.5 + rng.normal(0.25, noise, rows), 0.001, 0.999)
    channel = rng.choice(["web", "pos"], rows)
    return performance.evaluate(
        "classification", y_true, (score >= 0.5).astype(int), score, {"channel": channel}
    )


def drift_metrics(features=45, drifted=3, rows=300, seed=0, prediction=False) -> dict:
    """monitoring.stats.drift of a sample against its reference profile: every third feature
    a category, the first `drifted` shifted, and a few current values out of range or unseen."""
    rng = np.random.default_rng(seed)
    reference, current = {}, {}
    for index in range(features):
        name = f"feature_{index:03d}"
        shift = 1.5 / (index + 1) if index < drifted else 0.0
        if index % 3 == 0:
            reference[name] = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
            weights = [0.5 - shift / 3, 0.3, 0.2 + shift / 3]
            current[name] = rng.choice(["a", "b", "c"], rows, p=weights)
            current[name][:3] = "new"
        else:
            reference[name] = rng.normal(0, 1, rows)
            current[name] = rng.normal(shift, 1, rows)
            current[name][:2] = 50.0
    if prediction:  # the model's score, which drifts upwards
        reference["score"], current["score"] = rng.beta(2, 5, rows), rng.beta(3, 4, rows)
    reference_frame, current_frame = pd.DataFrame(reference), pd.DataFrame(current)
    numeric = [name for name in reference if reference_frame[name].dtype.kind == "f"]
    categorical = [name for name in reference if name not in numeric]
    profiled, columns = profile.build_profile([reference_frame], numeric, categorical)
    options = {"prediction_column": "score"} if prediction else {}
    return drift.compare(profiled, columns.__getitem__, [current_frame], options)


def fairness_metrics(rows=600, seed=0) -> dict:
    """monitoring.stats.fairness where group F is selected half as often as M, and X is too
    small to judge."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], rows)
    sex[:4] = "X"
    y_true = rng.integers(0, 2, rows)
    selected = rng.random(rows) < np.where(sex == "F", 0.2, 0.4)
    selected[:4] = True  # X, all selected: too small to count as the best-treated group
    return fairness.evaluate("classification", y_true, selected.astype(int), {"sex": sex})


def run(version, kind, data, *, metrics=None, status=RunStatus.DONE, ago=timedelta(0), **fields):
    """A run of `version` on `data`, finished `ago` before now when done."""
    finished = timezone.now() - ago
    return EvaluationRun.objects.create(
        version=version,
        kind=kind,
        dataset=data,
        inputs_key=f"{next(_ids):064d}",
        status=status,
        metrics=metrics or {},
        queued_at=finished - timedelta(minutes=1),
        started_at=finished - timedelta(seconds=50) if status != RunStatus.PENDING else None,
        finished_at=finished if status in (RunStatus.DONE, RunStatus.FAILED) else None,
        duration_seconds=50.0 if status in (RunStatus.DONE, RunStatus.FAILED) else None,
        **fields,
    )

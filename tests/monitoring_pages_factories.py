"""Evaluation runs with metrics of the contract's shapes, for the monitoring page tests.

Performance numbers come from scikit-learn on a small fixed sample, so the charts draw what a
real run would store; drift and fairness results are written out in their stored shape.
"""

from datetime import timedelta

import numpy as np
from django.utils import timezone
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve

from monitoring.models import Dataset, EvaluationRun, RunStatus

_ids = iter(range(1, 1_000_000))


def dataset(model, kind="evaluation", rows=500, name="holdout.csv") -> Dataset:
    return Dataset.objects.create(
        model=model,
        kind=kind,
        name=name,
        storage_name=f"monitoring/datasets/{model.pk}/{next(_ids)}.parquet",
        size=1000,
        sha256="0" * 64,
        row_count=rows,
        schema=[{"name": "amount", "type": "double"}],
    )


def classification_metrics(seed=0, noise=0.35) -> dict:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, 400)
    score = np.clip(y_true * 0.5 + rng.normal(0.25, noise, 400), 0.001, 0.999)
    y_pred = (score >= 0.5).astype(int)
    fpr, tpr, _ = sk.roc_curve(y_true, score)
    fraction, mean_predicted = calibration_curve(y_true, score, n_bins=10)
    summary = {
        "accuracy": sk.accuracy_score(y_true, y_pred),
        "precision": sk.precision_score(y_true, y_pred),
        "recall": sk.recall_score(y_true, y_pred),
        "f1": sk.f1_score(y_true, y_pred),
        "roc_auc": sk.roc_auc_score(y_true, score),
        "log_loss": sk.log_loss(y_true, score),
    }
    return {
        "task": "classification",
        "rows": 400,
        "positive_label": "1",
        "average": "binary",
        "overall": {
            **summary,
            "confusion_matrix": {
                "labels": ["0", "1"],
                "matrix": sk.confusion_matrix(y_true, y_pred).tolist(),
            },
            "roc_curve": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
            "calibration": {
                "mean_predicted": mean_predicted.tolist(),
                "fraction_positive": fraction.tolist(),
                "count": np.histogram(score, bins=10, range=(0, 1))[0].tolist(),
            },
        },
        "segments": {
            "channel": [
                {"value": "web", "count": 250, "accuracy": 0.8, "f1": 0.79},
                {"value": "pos", "count": 150, "accuracy": 0.7, "f1": None},
            ]
        },
        "missing": {"label": 0, "prediction": 0},
        "summary": summary,
    }


def drift_metrics(features=45, drifted=3) -> dict:
    listed = []
    for index in range(features):
        psi = 0.9 / (index + 1)
        listed.append(
            {
                "name": f"feature_{index:03d}",
                "type": "numeric" if index % 3 else "categorical",
                "method": "ks" if index % 3 else "chi2",
                "psi": psi,
                **(
                    {"ks_statistic": psi / 3, "ks_pvalue": 0.001 * index}
                    if index % 3
                    else {"chi2_statistic": 40.0 / (index + 1), "chi2_pvalue": 0.002 * index}
                ),
                "pvalue_adjusted": min(1.0, 0.003 * index),
                "drifted": index < drifted,
                "approximation": "",
                "missing_reference": 0,
                "missing_current": index % 2,
                "unseen_categories": 0,
                "reference_hist": (
                    {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [30, 40, 30, 0]}
                    if index % 3
                    else {"categories": ["a", "b"], "counts": [60, 40, 0]}
                ),
                "current_hist": {"counts": [10, 40, 45, 5] if index % 3 else [20, 70, 10]},
            }
        )
    return {
        "rows_reference": 100,
        "rows_current": 100,
        "options": {},
        "features": listed,
        "prediction": None,
        "share_drifted": drifted / features,
        "drifted": False,
        "summary": {
            "share_drifted": drifted / features,
            "drifted_features": drifted,
            "max_psi": 0.9,
            "prediction_psi": None,
        },
    }


def fairness_metrics() -> dict:
    return {
        "task": "classification",
        "min_group_size": 30,
        "attributes": [
            {
                "name": "sex",
                "columns": ["sex"],
                "groups": [
                    {
                        "value": "F",
                        "count": 120,
                        "selection_rate": 0.2,
                        "tpr": 0.6,
                        "fpr": 0.1,
                        "accuracy": 0.8,
                        "too_small": False,
                    },
                    {
                        "value": "M",
                        "count": 150,
                        "selection_rate": 0.4,
                        "tpr": 0.8,
                        "fpr": 0.2,
                        "accuracy": 0.82,
                        "too_small": False,
                    },
                    {
                        "value": "X",
                        "count": 4,
                        "selection_rate": 1.0,
                        "tpr": None,
                        "fpr": None,
                        "accuracy": 0.5,
                        "too_small": True,
                    },
                ],
                "demographic_parity_difference": 0.2,
                "demographic_parity_ratio": 0.5,
                "equalized_odds_difference": 0.2,
                "equalized_odds_ratio": 0.5,
                "disparate_impact_ratio": 0.5,
                "four_fifths": False,
            }
        ],
        "summary": {
            "min_disparate_impact_ratio": 0.5,
            "max_demographic_parity_difference": 0.2,
            "max_equalized_odds_difference": 0.2,
        },
    }


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

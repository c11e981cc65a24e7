"""What a staging run tells about a version registered from it: Vetted's lineage, read from
MLflow's params, metrics, tags and logged datasets when `model-versions/create` freezes it.
"""

import json
import math
import re

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from registry.services import Lineage

from .models import MetricPoint, Run

GIT_COMMIT_TAG = "mlflow.source.git.commit"
GIT_REPO_TAG = "mlflow.source.git.repoURL"
GIT_BRANCH_TAG = "mlflow.source.git.branch"
NOTE_TAG = "mlflow.note.content"
DATASET_CONTEXT_TAG = "mlflow.data.context"

_HEX_COMMIT = re.compile(r"[0-9a-fA-F]{1,64}")


def latest_metrics(run_ids: list[str]) -> dict[str, list[MetricPoint]]:
    """Each run's latest point per metric, as MLflow picks it: highest step, then timestamp,
    then value. One query for any number of runs, on PostgreSQL and SQLite alike.
    """
    latest: dict[str, list[MetricPoint]] = {run_id: [] for run_id in run_ids}
    points = (
        MetricPoint.objects.filter(run_id__in=run_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("run_id"), F("key")],
                order_by=[F("step").desc(), F("timestamp").desc(), F("value").desc()],
            )
        )
        .filter(rank=1)
        .order_by("run_id", "key")
    )
    for point in points:
        latest[point.run_id].append(point)
    return latest


def run_lineage(run: Run) -> Lineage:
    """The run's params, latest finite metric values, git commit/branch/repository and note.

    A version's metrics are finite numbers and its commit a hex id, so a NaN metric or a commit
    tag that is not a commit id stays on the run only.
    """
    tags = run.tags
    commit = tags.get(GIT_COMMIT_TAG, "")
    return Lineage(
        description=tags.get(NOTE_TAG, ""),
        git_repo=tags.get(GIT_REPO_TAG, "")[:500],
        git_commit=commit if _HEX_COMMIT.fullmatch(commit) else "",
        git_branch=tags.get(GIT_BRANCH_TAG, "")[:255],
        training_data_uri=_training_data_uri(run),
        params=dict(run.params),
        metrics={
            point.key: point.value
            for point in latest_metrics([run.run_id])[run.run_id]
            if math.isfinite(point.value)
        },
    )


def run_datasets(run: Run) -> list[dict]:
    """The datasets logged as the run's inputs (name, digest, source_type, source, context)."""
    datasets = []
    for entry in run.inputs:
        dataset = entry.get("dataset")
        if not isinstance(dataset, dict):
            continue  # a model input
        context = next(
            (
                t.get("value", "")
                for t in entry.get("tags", [])
                if t.get("key") == DATASET_CONTEXT_TAG
            ),
            "",
        )
        datasets.append(
            {
                "name": dataset.get("name", ""),
                "digest": dataset.get("digest", ""),
                "source_type": dataset.get("source_type", ""),
                "source": dataset.get("source", ""),
                "context": context,
            }
        )
    return datasets


def _training_data_uri(run: Run) -> str:
    """Where the training dataset came from, when its MLflow source names a location."""
    for dataset in run_datasets(run):
        if dataset["context"] != "training":
            continue
        try:
            source = json.loads(dataset["source"])
        except (TypeError, ValueError):
            continue
        if isinstance(source, dict):
            for key in ("uri", "url", "path", "table_name"):
                if isinstance(source.get(key), str) and source[key]:
                    return source[key][:1000]
    return ""

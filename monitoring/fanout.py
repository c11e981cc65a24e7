"""A big evaluation's predictions, fanned out across workers: one task per slice of rows.

Each slice predicts its rows in its own sandbox and writes them as a Parquet part through the
storage API under the run's folder, named by the slice's place in the plan, so a redelivered
slice finds its part and writes no second one. The chord's callback reads the parts back in
plan order and computes the metrics with monitoring.evaluate exactly as one worker would.
"""

import io
import itertools
import math
import re
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files.base import ContentFile

from registry.artifacts import delete_folder_unchanged_since
from registry.services import artifact_storage

from . import services
from .evaluate import (
    PREDICTING,
    EvaluationFailed,
    Heartbeat,
    StoredPredictions,
    needing_predictions,
    predict_in_sandbox,
)
from .models import Dataset, EvaluationRun, RunStatus

# One slice: the dataset it predicts on, and its rows [start, stop).
Slice = tuple[int, int, int]


def plan(run: EvaluationRun) -> list[Slice]:
    """The slices a run's predictions fan out into, or [] when one worker makes them: each
    dataset needing the model's predictions is cut into even slices of at most
    EVALUATION_FAN_OUT_ROWS rows, once their rows together pass it."""
    limit = settings.EVALUATION_FAN_OUT_ROWS
    datasets = needing_predictions(run)
    if sum(d.row_count for d in datasets) <= limit:
        return []
    slices: list[Slice] = []
    for dataset in datasets:
        count = math.ceil(dataset.row_count / limit)
        bounds = [dataset.row_count * i // count for i in range(count + 1)]
        slices += [(dataset.pk, start, stop) for start, stop in itertools.pairwise(bounds)]
    return slices


# A run's folder under it holds only its parts.
EVALUATIONS_FOLDER = "monitoring/evaluations"


def parts_folder(run_id: int) -> str:
    return f"{EVALUATIONS_FOLDER}/{run_id}/predictions"


def part_name(run_id: int, index: int) -> str:
    return f"{parts_folder(run_id)}/{index:05d}.parquet"


def _part_rows(storage, name: str) -> int | None:
    """The rows of a stored part, or None when there is none or it is not whole."""
    if not storage.exists(name):
        return None
    try:
        with storage.open(name, "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    except (OSError, ValueError, pa.ArrowException):
        return None


def predict_slice(*, run_id: int, index: int, dataset_id: int, start: int, stop: int) -> str:
    """Predict one slice and store its part (its name is returned); nothing when the run has
    ended meanwhile (another slice failed, or it was given up) or the part is stored already.

    A slice counts once: when its part was stored by this delivery. A delivery killed between
    the two leaves the count one short, which the run's end makes whole."""
    run = (
        EvaluationRun.objects.select_related("version__model")
        .filter(pk=run_id, status=RunStatus.RUNNING)
        .first()
    )
    if run is None:
        return ""
    storage = artifact_storage()
    name = part_name(run_id, index)
    if _part_rows(storage, name) == stop - start:
        return name
    dataset = Dataset.objects.get(pk=dataset_id)
    predicted = predict_in_sandbox(run, dataset, Heartbeat(run_id), (0.0, 1.0), rows=(start, stop))
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(predicted, preserve_index=False), buffer)
    if storage.exists(name):  # a part a killed delivery left unfinished
        storage.delete(name)
    saved = storage.save(name, ContentFile(buffer.getvalue()))
    if saved != name:  # a concurrent delivery stored the same rows first: keep one
        storage.delete(saved)
    services.record_slice_done(run_id=run_id, predicting=PREDICTING)
    return name


def stored_predictions(run_id: int, slices: list[Slice]) -> StoredPredictions:
    """The parts of a dataset's slices read back in order, part by part and batch by batch."""

    def read(dataset: Dataset) -> pd.DataFrame:
        storage = artifact_storage()
        frames = []
        for index, (dataset_id, start, stop) in enumerate(slices):
            if dataset_id != dataset.pk:
                continue
            name = part_name(run_id, index)
            if _part_rows(storage, name) != stop - start:
                raise EvaluationFailed(
                    f"The predictions of rows {start:,} to {stop:,} of dataset {dataset.pk}"
                    " are missing or incomplete."
                )
            with storage.open(name, "rb") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=200_000):
                    frames.append(batch.to_pandas())
        return pd.concat(frames, ignore_index=True)

    return read


def delete_parts(run_id: int) -> None:
    """The run's parts, once its metrics are stored (or it failed): they are no result."""
    storage = artifact_storage()
    folder = parts_folder(run_id)
    try:
        _, names = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        storage.delete(f"{folder}/{name}")


def sweep_debris(before: datetime) -> tuple[int, int]:
    """Delete the folders of runs not under way (ended or deleted) once nothing in them changed
    since `before`: (folders, bytes). A chord that never completed leaves its parts there, and
    local storage keeps the empty folder delete_parts() leaves. A run still pending or running
    keeps its parts however old: a redelivered slice uses them."""
    storage = artifact_storage()
    try:
        names = storage.listdir(EVALUATIONS_FOLDER)[0]
    except FileNotFoundError:
        return 0, 0
    run_ids = [int(name) for name in names if re.fullmatch(r"[1-9][0-9]{0,17}", name)]
    under_way = EvaluationRun.objects.filter(
        pk__in=run_ids, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
    ).values_list("pk", flat=True)
    folders = size = 0
    for run_id in set(run_ids) - set(under_way):
        held = delete_folder_unchanged_since(storage, f"{EVALUATIONS_FOLDER}/{run_id}", before)
        if held is not None:
            folders += 1
            size += held
    return folders, size

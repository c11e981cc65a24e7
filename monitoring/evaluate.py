"""Computing one claimed evaluation run: predictions in the sandbox, numbers outside it.

A stored model predicts only inside the sandbox (monitoring/predict_probe.py, as the load
check's probe); a batch that carries its own prediction column needs no model at all. The
metrics come from monitoring.stats over the data read in chunks, so memory stays bounded by the
few columns an evaluation needs, whatever the dataset's width. Progress goes to the run's row as
the work moves on, and says the worker is alive.
"""

import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from django.conf import settings

from registry.models import TaskType
from registry.services import NO_MLMODEL_ERROR, artifact_storage
from sandbox import config
from sandbox.runner import INSIDE, Outcome, explain_limit, run_probe, workspace

from . import datasets, services
from .models import Dataset, EvaluationKind, EvaluationRun
from .stats import drift, fairness, performance

PROBE = Path(__file__).resolve().parent / "predict_probe.py"
PREDICT_BATCH_ROWS = 50_000
COPY_CHUNK_BYTES = 1024 * 1024
# Of a run's progress, the share spent predicting in the sandbox (when it does).
PREDICTING = 0.7


class EvaluationFailed(Exception):
    """The model or the data failed the evaluation (not the machinery): the run's answer."""


class Progress:
    """Writes the run's progress at most once a second (and a heartbeat every so often)."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.last = 0.0
        self.every_beat = settings.LOAD_CHECK_HEARTBEAT_SECONDS

    def __call__(self, fraction: float, note: str, *, force: bool = False) -> None:
        if force or time.monotonic() - self.last >= 1.0:
            self.last = time.monotonic()
            services.record_progress(run_id=self.run_id, progress=fraction, note=note)

    def beat(self) -> None:
        if time.monotonic() - self.last >= self.every_beat:
            self.last = time.monotonic()
            services.record_heartbeat(run_id=self.run_id)


class Heartbeat(Progress):
    """A slice of a fanned-out run: it says it is alive, and leaves the run's progress to the
    count of slices done (slices running side by side would overwrite each other's)."""

    def __call__(self, fraction: float, note: str, *, force: bool = False) -> None:
        self.beat()


def run_datasets(run: EvaluationRun) -> list[Dataset]:
    """The data a run judges: its dataset, then its window's batches (a scheduled run)."""
    return [run.dataset, *run.window.exclude(pk=run.dataset_id).order_by("observed_at", "id")]


# The model's predictions on one dataset, made already (by the slices of a fanned-out run).
StoredPredictions = Callable[[Dataset], pd.DataFrame]


def evaluate(run: EvaluationRun, stored: StoredPredictions | None = None) -> dict:
    """The metrics of a claimed run, JSON-ready (NaN as null); EvaluationFailed when the model
    cannot predict or the data cannot be judged. The model predicts here, in the sandbox,
    unless its predictions are `stored`: the numbers are computed the same way either way."""
    progress = Progress(run.pk)
    progress(0.0 if stored is None else PREDICTING, "reading the data", force=True)
    if run.kind == EvaluationKind.DRIFT:
        metrics = _drift(run, progress)
    else:
        metrics = _labelled(run, progress, stored)
    return json_ready(metrics)


def recorded_predictions(run: EvaluationRun, sources: list[Dataset]) -> set[int]:
    """The datasets whose own prediction column holds the predictions of the run's version:
    those it served (datasets.serving_versions). Any other version, a staging one on production
    batches say, predicts for itself in the sandbox."""
    served = datasets.serving_versions(run.version.model_id, sources)
    return {d.pk for d in sources if d.prediction_column and served[d.pk] == run.version_id}


def needing_predictions(run: EvaluationRun) -> list[Dataset]:
    """The run's datasets the stored model must predict on (those without its predictions)."""
    if run.kind == EvaluationKind.DRIFT:
        return []
    sources = run_datasets(run)
    recorded = recorded_predictions(run, sources)
    return [d for d in sources if d.pk not in recorded]


def json_ready(value):
    """NaN and infinities become null, NumPy scalars plain numbers: what JSON and the row hold."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- Drift -----------------------------------------------------------------------------------


def _drift(run: EvaluationRun, progress: Progress) -> dict:
    """The current data's features (and prediction, when both sides have one) against the
    reference's stored profile; the label and score are left out of the verdict."""
    reference = run.reference
    assert reference is not None
    profile, sorted_reference = datasets.reference_profile(reference)
    profiled = profile["columns"]
    current = {c["name"] for c in run.dataset.schema}
    features = [c for c in reference.feature_columns if c in profiled and c in current]
    options = dict(run.options)
    columns, wanted = list(features), set(features)
    prediction = run.dataset.prediction_column
    if prediction and reference.prediction_column in profiled:
        options["prediction_column"] = prediction
        options["prediction_reference_column"] = reference.prediction_column
        columns.append(prediction)
        wanted.add(reference.prediction_column)
    compared = {**profile, "columns": {k: v for k, v in profiled.items() if k in wanted}}
    return drift.compare(compared, sorted_reference, _chunks(run, columns, progress), options)


def _chunks(run: EvaluationRun, columns: list[str], progress: Progress) -> Iterator[pd.DataFrame]:
    """The run's data in chunks of the named columns (those a dataset has), progress as read."""
    sources = run_datasets(run)
    total = sum(d.row_count for d in sources) or 1
    done = 0
    for dataset in sources:
        present = {c["name"] for c in dataset.schema}
        for chunk in datasets.read_chunks(dataset, columns=[c for c in columns if c in present]):
            yield chunk
            done += len(chunk)
            progress(0.05 + 0.9 * done / total, f"{done:,} of {total:,} rows compared")


# --- Performance and fairness ----------------------------------------------------------------


def _labelled(run: EvaluationRun, progress: Progress, stored: StoredPredictions | None) -> dict:
    frames = []
    sources = run_datasets(run)
    recorded = recorded_predictions(run, sources)
    for position, dataset in enumerate(sources):
        if not dataset.label_column:
            raise EvaluationFailed(f"Dataset {dataset.pk} names no label column.")
        place = (position, len(sources))
        frames.append(
            _labels_and_predictions(run, dataset, dataset.pk in recorded, progress, place, stored)
        )
    table = pd.concat(frames, ignore_index=True)
    progress(PREDICTING + 0.1, "computing the metrics", force=True)
    y_true = table["label"].to_numpy()
    y_pred = table["prediction"].to_numpy()
    task = _task(run.version.model.task_type, table["label"])
    protected = {c: table[f"protected:{c}"].to_numpy() for c in run.dataset.protected_columns}
    if run.kind == EvaluationKind.PERFORMANCE:
        score = table["score"].to_numpy(dtype="float64") if "score" in table else None
        metrics = performance.evaluate(
            task, y_true, y_pred, score=score, segments=protected or None
        )
    else:
        metrics = fairness.evaluate(
            task,
            y_true,
            y_pred,
            protected,
            min_group_size=int(run.options["min_group_size"]),
            four_fifths=float(run.options["four_fifths"]),
        )
    metrics["predictions"] = {  # datasets whose predictions were recorded, or made here
        "recorded": [d.pk for d in sources if d.pk in recorded],
        "made": [d.pk for d in sources if d.pk not in recorded],
    }
    return metrics


def _task(task_type: str, labels: pd.Series) -> str:
    """The model's own task when it says; otherwise regression when the labels are numbers that
    are not all whole, else classification."""
    if task_type == TaskType.CLASSIFICATION:
        return "classification"
    if task_type in (TaskType.REGRESSION, TaskType.FORECASTING):
        return "regression"
    values = labels.dropna()
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values.to_numpy(), 1) == 0):
        return "regression"
    return "classification"


def _labels_and_predictions(
    run: EvaluationRun,
    dataset: Dataset,
    recorded: bool,
    progress: Progress,
    place: tuple[int, int],
    stored: StoredPredictions | None,
) -> pd.DataFrame:
    """One dataset's labels, protected columns and predictions (recorded with it, or the
    model's)."""
    wanted = {dataset.label_column: "label"}
    wanted |= {c: f"protected:{c}" for c in run.dataset.protected_columns}
    if recorded:
        wanted[dataset.prediction_column] = "prediction"
        if dataset.score_column:
            wanted[dataset.score_column] = "score"
    present = {c["name"] for c in dataset.schema}
    missing = [c for c in wanted if c not in present]
    if missing:
        raise EvaluationFailed(f"Dataset {dataset.pk} has no column {', '.join(missing)}.")
    parts = []
    for chunk in datasets.read_chunks(dataset, columns=list(wanted)):
        parts.append(chunk)
        progress.beat()
    frame = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(wanted))
    ).rename(columns=wanted)
    if recorded:
        return frame
    if stored is not None:
        predicted = stored(dataset)
    else:
        position, count = place
        share = (position / count, (position + 1) / count)
        predicted = predict_in_sandbox(run, dataset, progress, share)
    if len(predicted) != len(frame):
        raise EvaluationFailed(
            f"The model returned {len(predicted)} predictions for {len(frame)} rows."
        )
    for name in predicted.columns:
        frame[name] = predicted[name].to_numpy()
    return frame


# --- Predictions in the sandbox --------------------------------------------------------------


def _copy(storage, name: str, target: Path, progress: Progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with storage.open(name, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(COPY_CHUNK_BYTES):  # gigabytes from S3 take a while
            dst.write(chunk)
            progress.beat()


def _readable(error: str) -> str:
    """The exception's own line first, then the traceback, without the sandbox's layout."""
    text = error.replace(f"{INSIDE}/model/", "").replace(f"{INSIDE}/", "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return f"{lines[-1].strip()}\n\n{text}" if len(lines) > 1 else text


def _copy_rows(storage, dataset: Dataset, rows: tuple[int, int], target: Path, progress) -> None:
    """Rows [start, stop) of the dataset's features as a Parquet file: only the row groups
    that hold them are read, so memory stays bounded by a row group."""
    start, stop = rows
    writer = None
    with storage.open(dataset.storage_name, "rb") as handle:
        source = pq.ParquetFile(handle)
        offset = 0
        for index in range(source.num_row_groups):
            count = source.metadata.row_group(index).num_rows
            first, last = max(start - offset, 0), min(stop - offset, count)
            offset += count
            if first >= last:
                continue
            group = source.read_row_group(index, columns=dataset.feature_columns)
            table = group.slice(first, last - first)
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
            progress.beat()
    if writer is not None:
        writer.close()


def predict_in_sandbox(
    run: EvaluationRun,
    dataset: Dataset,
    progress: Progress,
    share: tuple[float, float],
    rows: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """The version's predictions on `dataset` (`prediction`, and `score` for a scikit-learn
    binary classifier), made by predict_probe.py in the sandbox from private copies of the
    version's files and the dataset's Parquet file, or only its `rows` [start, stop)."""
    version = run.version
    artifacts = list(version.artifacts.all())
    if not any(a.path == "MLmodel" for a in artifacts):
        raise EvaluationFailed(NO_MLMODEL_ERROR)
    iso = config.isolation()
    limits = config.limits(
        wall_seconds=settings.EVALUATION_TIMEOUT_SECONDS, memory_mb=settings.EVALUATION_MEMORY_MB
    )
    storage = artifact_storage()
    start, end = (PREDICTING * s for s in share)
    with workspace() as ws:
        for artifact in artifacts:
            _copy(storage, artifact.storage_name, ws.model_dir / artifact.path, progress)
        if rows is None:
            _copy(storage, dataset.storage_name, ws.inputs_dir / "dataset.parquet", progress)
            expected = dataset.row_count
        else:
            _copy_rows(storage, dataset, rows, ws.inputs_dir / "dataset.parquet", progress)
            expected = rows[1] - rows[0]
        request = {"features": dataset.feature_columns, "batch_rows": PREDICT_BATCH_ROWS}
        (ws.inputs_dir / "request.json").write_text(json.dumps(request))
        progress(start, f"v{version.number} predicting on dataset {dataset.pk}", force=True)
        done_file = ws.outputs_dir / "progress"

        def watch() -> None:
            try:
                with open(done_file, "rb") as written:  # the model's process wrote it: 32 bytes
                    done = int(written.read(32) or 0)
            except (OSError, ValueError):  # not written yet, or being written
                progress.beat()
                return
            fraction = start + (end - start) * done / max(expected, 1)
            progress(fraction, f"{done:,} of {expected:,} rows predicted")

        ran = run_probe(ws, probe=PROBE, limits=limits, iso=iso, while_running=watch)
        if ran.outcome != Outcome.OK:
            raise EvaluationFailed(ran.error)
        assert ran.result is not None
        if ran.result.get("ok") is not True:
            error = _readable(str(ran.result.get("error") or "The model reported an error."))
            hint = explain_limit(error, limits)
            raise EvaluationFailed(f"{hint}\n{error}" if hint else error)
        output = ws.outputs_dir / "predictions.parquet"
        if not output.exists():  # no rows to predict on
            return pd.DataFrame({"prediction": pd.Series([], dtype="float64")})
        return _read_predictions(output, expected)


# Room for a prediction as text: past it, the file is not predictions (or is a bomb).
MAX_BYTES_PER_ROW = 1024


def _read_predictions(output: Path, rows: int) -> pd.DataFrame:
    """The sandbox's predictions, checked before they are read: the model's process wrote the
    file, so its row count and its size once uncompressed are held to what the data allows."""
    try:
        metadata = pq.ParquetFile(output).metadata
    except (OSError, ValueError) as error:
        raise EvaluationFailed(f"The model process wrote unreadable predictions: {error}") from None
    names = set(metadata.schema.names)
    if "prediction" not in names:
        raise EvaluationFailed("The model process wrote no predictions.")
    if metadata.num_rows != rows:
        raise EvaluationFailed(
            f"The model returned {metadata.num_rows} predictions for {rows} rows."
        )
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if size > rows * MAX_BYTES_PER_ROW + 1024 * 1024:
        raise EvaluationFailed("The model's predictions are too large to be one value a row.")
    known = [c for c in ("prediction", "score") if c in names]
    return pq.read_table(output, columns=known).to_pandas()

"""A model's datasets: uploads checked against its signature, stored as Parquet, read in chunks.

An upload (CSV or Parquet, told apart by content) is read in record batches with pyarrow and
written to a temporary Parquet file, so memory stays bounded whatever its size; only when every
batch passed the checks is the file hashed, saved through the storage API and given its row. A
file that fails is never stored, and the error names the columns at fault.
"""

import csv
import hashlib
import io
import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import record
from registry.artifacts import size_label
from registry.models import ModelVersion, RegisteredModel, Stage, StageChange, TaskType
from registry.services import artifact_storage
from registry.uploads import LimitedUploadHandler
from vetted.api.errors import UploadTooLarge

from .access import can_upload_data
from .chunks import CHUNK_ROWS, parquet_chunks, read_sorted, write_sorted
from .models import Dataset, DatasetKind, ModelMonitoringSettings, ReferenceProfile
from .stats import options
from .stats.profile import build_profile

DATASETS_FOLDER = "monitoring/datasets"
PROFILES_FOLDER = "monitoring/profiles"
PARQUET_MAGIC = b"PAR1"
READ_BATCH_ROWS = 64_000
CSV_BLOCK_BYTES = 8 * 1024 * 1024
HASH_CHUNK_BYTES = 1024 * 1024
HEADER_BYTES = 64 * 1024

NUMERIC_TYPES = {"double", "float", "long", "integer"}
INTEGER_TYPES = {"long", "integer"}
# What an upload's column may hold for each MLflow column type of the signature.
ACCEPTED = {
    "double": {"double", "float", "long", "integer"},
    "float": {"double", "float", "long", "integer"},
    "long": {"long", "integer", "double"},  # a float column of whole numbers, as pandas writes
    "integer": {"long", "integer", "double"},  # an int column with missing values, is fine
    "boolean": {"boolean"},
    "string": {"string"},
    "binary": {"binary", "string"},
    "datetime": {"datetime"},
}
# The Arrow type a CSV's text is converted to for each MLflow type of the signature.
ARROW_FOR = {
    "double": pa.float64(),
    "float": pa.float64(),
    "long": pa.int64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "binary": pa.string(),
    "datetime": pa.timestamp("us"),
}


def dataset_too_large() -> UploadTooLarge:
    return UploadTooLarge(
        f"The dataset is larger than the limit of {size_label(settings.DATASET_MAX_BYTES)}."
    )


def mlflow_type(arrow_type: pa.DataType) -> str:
    """The MLflow column type name of an Arrow type; "null" for a column with no values at all."""
    if pa.types.is_null(arrow_type):
        return "null"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "long"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_dictionary(arrow_type):
        return mlflow_type(arrow_type.value_type)
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    return str(arrow_type)


@dataclass(frozen=True)
class SignatureColumn:
    name: str
    type: str
    required: bool


def signature_columns(version: ModelVersion | None) -> list[SignatureColumn] | None:
    """The named input columns of the version's MLflow signature; None when there is none to
    check against (no version, no signature, or a tensor signature without column names)."""
    signature = (version.signature if version else None) or {}
    inputs = signature.get("inputs")
    if isinstance(inputs, str):  # MLflow's own to_dict() keeps each part as JSON text
        inputs = json.loads(inputs)
    if not inputs or any(not spec.get("name") or spec.get("type") == "tensor" for spec in inputs):
        return None
    return [
        SignatureColumn(spec["name"], spec.get("type", ""), bool(spec.get("required", True)))
        for spec in inputs
    ]


@dataclass
class Roles:
    """What the uploader says the columns are for."""

    kind: str
    label: str = ""
    prediction: str = ""
    score: str = ""
    protected: tuple[str, ...] = ()

    def named(self) -> list[str]:
        return [c for c in (self.label, self.prediction, self.score, *self.protected) if c]


@dataclass
class _Written:
    """What streaming the upload into a Parquet file found out."""

    rows: int = 0
    schema: pa.Schema | None = None
    missing: dict[str, int] = field(default_factory=dict)


def store_dataset(
    *,
    actor,
    model: RegisteredModel,
    file: IO[bytes],
    filename: str,
    kind: str,
    observed_at: datetime | None = None,
    label: str = "",
    prediction: str = "",
    score: str = "",
    protected: Iterable[str] = (),
) -> Dataset:
    """Check an uploaded table against the model's latest signature and store it as Parquet.

    Raises ValidationError naming the columns at fault, UploadTooLarge past DATASET_MAX_BYTES,
    PermissionDenied for callers who may not upload; in every case nothing is stored. A
    reference dataset gets its profile at once, so evaluations never parse it again.
    """
    if not can_upload_data(actor, model):
        raise PermissionDenied("Your role in this team does not allow uploading data.")
    if kind not in DatasetKind.values:
        raise ValidationError(
            {"kind": [f"Unknown kind {kind!r}: use reference, evaluation or batch."]}
        )
    roles = Roles(kind, label.strip(), prediction.strip(), score.strip(), _clean_list(protected))
    version = model.versions.order_by("-number").first()
    expected = signature_columns(version)
    _check_roles(roles, has_version=version is not None)
    declared = getattr(file, "size", None)
    if isinstance(declared, int) and declared > settings.DATASET_MAX_BYTES:
        raise dataset_too_large()

    with tempfile.NamedTemporaryFile(
        prefix="vetted-dataset-", suffix=".parquet", dir=settings.FILE_UPLOAD_TEMP_DIR
    ) as scratch:
        written = _write_parquet(file, scratch.name, expected, roles)
        size = os.path.getsize(scratch.name)
        sha256 = _file_sha256(scratch.name)
        schema = [{"name": f.name, "type": mlflow_type(f.type)} for f in written.schema or []]
        columns = [c["name"] for c in schema]
        if expected is not None:
            features = [c.name for c in expected if c.name in columns]
        else:
            features = [c for c in columns if c not in roles.named()]
        storage = artifact_storage()
        with open(scratch.name, "rb") as stored:
            storage_name = storage.save(
                f"{DATASETS_FOLDER}/{model.pk}/{uuid.uuid4().hex}.parquet", File(stored)
            )
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                model=model,
                checked_against=version,
                kind=kind,
                name=os.path.basename(filename)[:255] or "upload",
                storage_name=storage_name,
                size=size,
                sha256=sha256,
                row_count=written.rows,
                schema=schema,
                missing=written.missing,
                feature_columns=features,
                label_column=roles.label,
                prediction_column=roles.prediction,
                score_column=roles.score,
                protected_columns=list(roles.protected),
                observed_at=observed_at or timezone.now(),
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            record(
                actor=actor,
                verb="dataset.uploaded",
                object_type="dataset",
                object_id=dataset.pk,
                object_name=f"{model.name} {kind} data #{dataset.pk}",
                team=model.team,
                model_name=model.name,
                after={
                    "kind": kind,
                    "name": dataset.name,
                    "rows": dataset.row_count,
                    "sha256": sha256,
                    "checked_against": version.number if version else None,
                },
            )
            if kind == DatasetKind.REFERENCE:
                reference_profile(dataset)
    except BaseException:
        storage.delete(storage_name)
        raise
    return dataset


def _clean_list(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = values.split(",")
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _check_roles(roles: Roles, *, has_version: bool) -> None:
    named = [c for c in (roles.label, roles.prediction, roles.score) if c]
    if len(set(named)) != len(named):
        raise ValidationError("The label, prediction and score must be different columns.")
    if roles.kind == DatasetKind.EVALUATION and not roles.label:
        raise ValidationError({"label": ["An evaluation dataset needs its label column named."]})
    if roles.kind == DatasetKind.BATCH and not roles.prediction and not has_version:
        raise ValidationError(
            {
                "prediction": [
                    "A production batch needs its prediction column named: the model has no "
                    "version to predict it."
                ]
            }
        )


def _sniff(file: io.RawIOBase) -> str:
    file.seek(0)
    head = file.read(len(PARQUET_MAGIC))
    file.seek(0)
    return "parquet" if head == PARQUET_MAGIC else "csv"


def _batches(
    file: io.RawIOBase, expected: list[SignatureColumn] | None
) -> Iterator[pa.RecordBatch]:
    """The upload's rows in record batches; text and malformed files raise ValidationError."""
    if _sniff(file) == "parquet":
        try:
            parquet = pq.ParquetFile(file)
            yield from parquet.iter_batches(batch_size=READ_BATCH_ROWS)
        except (pa.ArrowException, OSError) as error:
            raise ValidationError(
                f"The file is not a Parquet file that can be read: {error}"
            ) from None
        return
    # Signature columns are read as text and converted here, so that every column of the wrong
    # type is named at once (the CSV reader would stop at the first); the rest are inferred.
    text_columns = {c.name: pa.string() for c in expected or []}
    names: list[str] = []
    try:
        reader = pa_csv.open_csv(
            file,
            read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pa_csv.ConvertOptions(
                column_types=text_columns, strings_can_be_null=True
            ),
        )
        names = reader.schema.names
        yield from reader
    except (pa.ArrowException, UnicodeDecodeError) as error:
        raise ValidationError(_csv_problem(error, names or _header(file))) from None


def _header(file: io.RawIOBase) -> list[str]:
    """The column names of a CSV the reader refused at its first block, to name the culprit."""
    file.seek(0)
    line = (file.read(HEADER_BYTES) or b"").split(b"\n", 1)[0]
    try:
        return next(csv.reader([line.decode("utf-8", errors="replace")]), [])
    except csv.Error:  # not even a header (a stray carriage return or NUL: binary, not text)
        return []


def _csv_problem(error: Exception, names: list[str]) -> str:
    """The reader infers types from the first block; a later value that does not fit, or text
    that is not UTF-8, is the column's fault, so name the column rather than its position."""
    found = re.search(r"CSV column #(\d+)", str(error))
    if found and int(found.group(1)) < len(names):
        column = names[int(found.group(1))]
        if "UTF8" in str(error):
            return f"Column {column} holds text that is not UTF-8: save the file as UTF-8."
        return f"Column {column} changes type part way through the file: {error}"
    return f"The file is neither Parquet nor a CSV that can be read: {error}"


def _write_parquet(
    file: IO[bytes], path: str, expected: list[SignatureColumn] | None, roles: Roles
) -> _Written:
    written = _Written()
    writer: pq.ParquetWriter | None = None
    try:
        for batch in _batches(_LimitedReader(file), expected):
            if written.schema is None:
                _check_columns(batch.schema, expected, roles)
            table = _converted(pa.Table.from_batches([batch]), expected)
            if written.schema is None:
                written.schema = table.schema
                writer = pq.ParquetWriter(path, table.schema)
            assert writer is not None
            writer.write_table(table)
            written.rows += table.num_rows
            for name in table.column_names:
                written.missing[name] = written.missing.get(name, 0) + _missing(table[name])
    finally:
        if writer is not None:
            writer.close()
    if written.schema is None or written.rows == 0:
        raise ValidationError("The file has no rows.")
    return written


class _LimitedReader(io.RawIOBase):
    """The upload as pyarrow reads it, stopping past DATASET_MAX_BYTES whatever the caller said
    the size was (a stream of unknown length, the demo's or a script's)."""

    def __init__(self, file: IO[bytes]):
        self.file = file
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = self.file.seek(offset, whence)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        data = self.file.read(len(buffer))
        self.position += len(data)
        if self.position > settings.DATASET_MAX_BYTES:
            raise dataset_too_large()
        buffer[: len(data)] = data
        return len(data)


def _check_columns(schema: pa.Schema, expected: list[SignatureColumn] | None, roles: Roles):
    """Every required signature column and every named column present, else one error naming
    them all; a Parquet column of a type the signature does not take is named too."""
    present = {f.name: mlflow_type(f.type) for f in schema}
    problems = []
    repeated = sorted({name for name in schema.names if schema.names.count(name) > 1})
    if repeated:
        problems.append(f"columns named more than once: {', '.join(repeated)}")
    if expected is not None:
        missing = [c.name for c in expected if c.required and c.name not in present]
        if missing:
            problems.append(f"missing columns the signature requires: {', '.join(missing)}")
        wrong = [
            f"{c.name} ({present[c.name]}, the signature says {c.type})"
            for c in expected
            if c.name in present
            and present[c.name] not in ("null", "string")  # text from a CSV is converted later
            and present[c.name] not in ACCEPTED.get(c.type, {c.type})
        ]
        if wrong:
            problems.append(f"columns of the wrong type: {', '.join(wrong)}")
    unknown = [c for c in roles.named() if c not in present]
    if unknown:
        problems.append(f"named columns not in the file: {', '.join(unknown)}")
    if problems:
        raise ValidationError(f"The file does not match the model: {'; '.join(problems)}.")


def _converted(table: pa.Table, expected: list[SignatureColumn] | None) -> pa.Table:
    """Signature columns cast to the signature's type; values that do not convert are named."""
    if expected is None:
        return table
    wrong = []
    for column in expected:
        if column.name not in table.column_names:
            continue
        current = table[column.name]
        target = ARROW_FOR.get(column.type)
        if target is None or current.type == target:
            continue
        wrong_value = None
        if column.type in INTEGER_TYPES and pa.types.is_floating(current.type):
            wrong_value = _first_fraction(current)
            current = pc.if_else(pc.is_nan(current), pa.scalar(None, current.type), current)
        try:
            if wrong_value is None:
                converted = pc.cast(current, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            wrong_value = _first_unconvertible(current, target)
        if wrong_value is not None:
            wrong.append(f"{column.name} ({column.type} expected, found {wrong_value!r})")
            continue
        table = table.set_column(
            table.column_names.index(column.name), pa.field(column.name, target), converted
        )
    if wrong:
        raise ValidationError(
            f"The file does not match the model: columns of the wrong type: {', '.join(wrong)}."
        )
    return table


def _first_fraction(column: pa.ChunkedArray):
    """A float column may hold integers with missing values (pandas writes them so); the first
    value with a fraction makes it the wrong type for an integer column."""
    values = column.to_numpy(zero_copy_only=False)
    fractional = np.flatnonzero(~np.isnan(values) & (values != np.floor(values)))
    return float(values[fractional[0]]) if len(fractional) else None


def _first_unconvertible(column: pa.ChunkedArray, target: pa.DataType):
    for value in column.to_pylist():
        if value is None:
            continue
        try:
            pc.cast(pa.array([value]), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return value
    return str(column.type)


def _missing(column: pa.ChunkedArray) -> int:
    """Nulls, NaN and empty text: all of them mean "no value" to an evaluation."""
    count = column.null_count
    if pa.types.is_floating(column.type):
        count += pc.sum(pc.is_nan(column)).as_py() or 0
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        count += pc.sum(pc.equal(column, "")).as_py() or 0
    return int(count)


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


# --- Reading --------------------------------------------------------------------------------


def read_chunks(
    dataset: Dataset, columns: list[str] | None = None, rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The dataset's rows as DataFrames of at most `rows` rows: memory bounded by the chunk."""
    with artifact_storage().open(dataset.storage_name, "rb") as handle:
        yield from parquet_chunks(handle, columns, rows)


def default_datasets(model: RegisteredModel) -> dict[str, Dataset | None]:
    """The model's latest reference and evaluation datasets (by observation time), or None."""
    found: dict[str, Dataset | None] = {}
    for kind in (DatasetKind.REFERENCE, DatasetKind.EVALUATION):
        found[kind.value] = Dataset.objects.filter(model=model, kind=kind).first()
    return found


def batches_between(model: RegisteredModel, since: datetime, until: datetime) -> QuerySet[Dataset]:
    """Production batches observed in [since, until), oldest first."""
    return Dataset.objects.filter(
        model=model, kind=DatasetKind.BATCH, observed_at__gte=since, observed_at__lt=until
    ).order_by("observed_at", "id")


def serving_versions(model_id: int, datasets: Iterable[Dataset]) -> dict[int, int | None]:
    """Per dataset of the model, the version whose predictions its prediction column holds: the
    one in production when the data was observed, by the model's stage history (one query for
    the history, however many datasets). Data older than that history (or seen while nothing was
    in production) is taken as served by today's production version, and a model that never had
    one by the version the data was checked against on upload."""
    moves = list(
        StageChange.objects.filter(version__model_id=model_id)
        .filter(Q(to_stage=Stage.PRODUCTION) | Q(from_stage=Stage.PRODUCTION))
        .order_by("created_at", "id")
        .values_list("version_id", "to_stage", "created_at")
    )
    production = ModelVersion.objects.filter(model_id=model_id, stage=Stage.PRODUCTION)
    now = production.values_list("pk", flat=True).first()
    served: dict[int, int | None] = {}
    for dataset in datasets:
        holder = None
        for version_id, to_stage, at in moves:
            if at > dataset.observed_at:
                break
            if to_stage == Stage.PRODUCTION:
                holder = version_id
            elif holder == version_id:
                holder = None
        served[dataset.pk] = holder or now or dataset.checked_against_id
    return served


# --- Reference profiles ---------------------------------------------------------------------


def profile_columns(dataset: Dataset) -> tuple[list[str], list[str]]:
    """The numeric and categorical columns a profile describes: features, label, prediction
    and score. A classifier's label and prediction are classes, so categorical."""
    types = {c["name"]: c["type"] for c in dataset.schema}
    classifier = dataset.model.task_type == TaskType.CLASSIFICATION
    classes = {dataset.label_column, dataset.prediction_column} - {""}
    wanted = [
        *dataset.feature_columns,
        *(c for c in (dataset.label_column, dataset.prediction_column, dataset.score_column) if c),
    ]
    numeric, categorical = [], []
    for name in dict.fromkeys(wanted):
        kind = types.get(name)
        if kind is None or kind == "datetime":
            continue
        if kind in NUMERIC_TYPES and not (classifier and name in classes):
            numeric.append(name)
        else:
            categorical.append(name)
    return numeric, categorical


def reference_profile(
    dataset: Dataset,
) -> tuple[dict, Callable[[str], np.ndarray]]:
    """The dataset's stored profile and a loader of its sorted numeric columns by name.

    Built the first time it is asked for, under a lock on the dataset's row, so two workers
    asking at once build it once; every later call reads what was stored.
    """
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        stored = ReferenceProfile.objects.filter(dataset=dataset).first()
        if stored is None:
            numeric, categorical = profile_columns(dataset)
            profile, sorted_columns = build_profile(
                read_chunks(dataset, columns=numeric + categorical),
                numeric,
                categorical,
                bins=_psi_bins(dataset.model),
            )
            sorted_name = _save_sorted(dataset, sorted_columns)
            try:
                stored = ReferenceProfile.objects.create(
                    dataset=dataset, profile=profile, sorted_storage_name=sorted_name
                )
            except BaseException:
                artifact_storage().delete(sorted_name)
                raise
    return stored.profile, _sorted_loader(stored.sorted_storage_name)


def _psi_bins(model: RegisteredModel) -> int:
    """The model's own number of PSI bins if it set one (stored settings were checked when
    saved), else the documented default."""
    values = ModelMonitoringSettings.objects.filter(model=model).values_list("values", flat=True)
    return int(options.merged(values.first() or {})["psi_bins"])


def _save_sorted(dataset: Dataset, columns: dict[str, np.ndarray]) -> str:
    """The sorted numeric columns saved through the storage API (columns.write_sorted)."""
    with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as scratch:
        write_sorted(scratch, columns)
        scratch.seek(0)
        return artifact_storage().save(
            f"{PROFILES_FOLDER}/{dataset.model_id}/{_stem(dataset.storage_name)}.npz",
            File(scratch),
        )


def _stem(storage_name: str) -> str:
    return os.path.splitext(os.path.basename(storage_name))[0]


def _sorted_loader(storage_name: str) -> Callable[[str], np.ndarray]:
    def load(column: str) -> np.ndarray:
        if not storage_name:
            raise KeyError(column)
        with artifact_storage().open(storage_name, "rb") as handle:
            return read_sorted(handle, column)

    return load


class DatasetUploadHandler(LimitedUploadHandler):
    """The registry's streaming upload handler, stopping at DATASET_MAX_BYTES instead: a
    dataset too large is refused while it arrives, not after it has filled the disk."""

    # The multipart envelope around the file and its fields is small; the file is what counts.
    FORM_ALLOWANCE = 64 * 1024

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.DATASET_MAX_BYTES + self.FORM_ALLOWANCE:
            raise dataset_too_large()
        super().handle_raw_input(input_data, META, content_length, boundary, encoding)

    def receive_data_chunk(self, raw_data, start):
        if self.received + len(raw_data) > settings.DATASET_MAX_BYTES:
            self.writer.stop()
            raise dataset_too_large()
        return super().receive_data_chunk(raw_data, start)

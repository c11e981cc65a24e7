"""The tracking calls MLflow's client makes while it trains and logs a model.

Experiments, runs, metrics and logged models are staging records (models.py): they belong to a
team, only that team sees them (RESOURCE_DOES_NOT_EXIST otherwise), and its members who may push
versions may write them. The shared Default experiment ("0") is visible to everyone; a run or
logged model filed there still belongs to its creator's team. Shapes and limits follow MLflow's
server (mlflow/server/handlers.py, mlflow/utils/validation.py).
"""

import json
import math
import posixpath
import re
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from registry.access import Action, team_allows, teams_allowing

from .. import wire
from ..artifact_store import logged_model_artifact_uri, run_artifact_uri
from ..lineage import latest_metrics
from ..models import (
    DEFAULT_EXPERIMENT_ID,
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    MetricPoint,
    Run,
    RunStatus,
    VersionSource,
)
from ..wire import PERMISSION_DENIED, Call, MlflowError, endpoint, invalid, not_found

# MLflow's limits (mlflow/utils/validation.py).
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DATASETS_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_ENTITY_KEY_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_RUNS_PER_PAGE = 50000
MAX_EXPERIMENTS_PER_PAGE = 50000

RUN_NAME_TAG = "mlflow.runName"
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"

# Enum numbers, for clients that send them instead of the names (proto JSON allows both).
RUN_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
LOGGED_MODEL_STATUS_NUMBERS = {
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}
VIEW_TYPES = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}

# MLflow's rule for param, metric and tag names (validate_param_and_metric_name).
_NAME = re.compile(r"[\w\-. /:]+")


# ---------------------------------------------------------------------------------------------
# Who sees and writes what


def _visible_team_ids(call: Call) -> QuerySet:
    return teams_allowing(call.user, Action.VIEW).values("id")


def _require_push(call: Call, team_id: int) -> None:
    if not team_allows(call.user, team_id, Action.PUSH):
        raise MlflowError(
            PERMISSION_DENIED,
            "Your role in this team does not allow logging runs or models (data scientists,"
            " DevOps and owners may).",
        )


def _default_experiment() -> Experiment:
    """MLflow's Default experiment, made again if a database flush removed the migration's row."""
    return Experiment.objects.get_or_create(
        pk=DEFAULT_EXPERIMENT_ID, defaults={"name": "Default", "team": None}
    )[0]


def _experiment(call: Call, experiment_id: str | None) -> Experiment:
    if experiment_id is None or not re.fullmatch(r"\d{1,18}", str(experiment_id).strip()):
        raise invalid(f"Invalid experiment ID {experiment_id!r}: it is a number, as a string.")
    found = Experiment.objects.filter(pk=int(experiment_id)).first()
    if found is None and int(experiment_id) == DEFAULT_EXPERIMENT_ID:
        found = _default_experiment()
    if found is None or (
        found.team_id is not None and not team_allows(call.user, found.team_id, Action.VIEW)
    ):
        raise not_found(f"No Experiment with id={experiment_id} exists")
    return found


def _run(call: Call, *, write: bool = False, field: str = "run_id") -> Run:
    """The run the call names; locked for the rest of the transaction when it will be written."""
    run_id = call.text(field) or call.text("run_uuid")
    if not run_id:
        raise invalid(f"Missing value for required parameter '{field}'.")
    runs = Run.objects.select_for_update() if write else Run.objects.all()
    found = runs.filter(pk=run_id).first()
    if found is None or not team_allows(call.user, found.team_id, Action.VIEW):
        raise not_found(f"Run with id={run_id} not found")
    if write:
        _require_push(call, found.team_id)
        if found.lifecycle_stage != LifecycleStage.ACTIVE:
            raise invalid(
                f"The run {run_id} must be in the 'active' state. Current state is"
                f" {found.lifecycle_stage}."
            )
    return found


def _logged_model(
    call: Call, model_id: str, *, write: bool = False, allow_deleted: bool = False
) -> LoggedModel:
    models = LoggedModel.objects.select_for_update() if write else LoggedModel.objects.all()
    found = models.filter(pk=model_id).first()
    if (
        found is None
        or not team_allows(call.user, found.team_id, Action.VIEW)
        or (found.lifecycle_stage != LifecycleStage.ACTIVE and not allow_deleted)
    ):
        raise not_found(f"Logged model with ID '{model_id}' not found.")
    if write:
        _require_push(call, found.team_id)
    return found


def _team_for(call: Call, experiment: Experiment) -> int:
    """The team a new run or logged model in `experiment` belongs to."""
    team_id = experiment.team_id if experiment.team_id is not None else call.team().pk
    _require_push(call, team_id)
    return team_id


# ---------------------------------------------------------------------------------------------
# Checking what the client sent


def _name(kind: str, key, path: str) -> str:
    if not isinstance(key, str) or not key:
        raise invalid(f"Missing value for required parameter '{path}'. {kind} names are strings.")
    if not _NAME.fullmatch(key):
        raise invalid(
            f"Invalid value {key[:80]!r} for parameter '{path}': names may only contain"
            " alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:)"
            " and slashes (/)."
        )
    normalized = posixpath.normpath(key)
    if normalized != key or normalized == "." or key.startswith(("..", "/")):
        raise invalid(
            f"Invalid value {key[:80]!r} for parameter '{path}': names must be normalized paths"
            " (no '..', leading '/', './' or '//')."
        )
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise invalid(f"{kind} name '{key[:80]}…' is longer than {MAX_ENTITY_KEY_LENGTH}.")
    return key


def _string(value, path: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, dict | list):
        raise invalid(f"Invalid value {json.dumps(value)[:80]} for parameter '{path}'.")
    text = str(value)
    if "\x00" in text:  # PostgreSQL's text and jsonb cannot hold it
        raise invalid(f"Parameter '{path}' contains a NUL character.")
    if len(text) > limit:
        raise invalid(f"'{path}' is {len(text)} characters; MLflow's limit is {limit}.")
    return text


def _long(value, path: str, default: int | None = None) -> int | None:
    """An int64 as proto JSON carries it: a number or a string of digits."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise invalid(f"Invalid value {value!r} for parameter '{path}': expected an integer.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not -(2**63) <= number < 2**63:
        raise invalid(f"Invalid value {value!r} for parameter '{path}': expected a 64-bit integer.")
    return number


def _double(value, path: str) -> float:
    """A double: a number, or "NaN" / "Infinity" / "-Infinity" as proto JSON writes them."""
    if value is None or isinstance(value, bool) or isinstance(value, dict | list):
        raise invalid(f"Invalid value {value!r} for parameter '{path}': expected a double.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(
            f"Invalid value {value!r} for parameter '{path}': expected a double."
        ) from None


def _key_values(items: list[dict], path: str, limit: int, kind: str) -> list[tuple[str, str]]:
    return [
        (
            _name(kind, item.get("key"), f"{path}[{index}].key"),
            _string(item.get("value"), f"{path}[{index}].value", limit),
        )
        for index, item in enumerate(items)
    ]


def _metric(item: dict, path: str, run: Run) -> MetricPoint:
    key = _name("Metric", item.get("key"), f"{path}key")
    timestamp = _long(item.get("timestamp"), f"{path}timestamp")
    if timestamp is None or timestamp < 0:
        raise invalid(f"Missing or negative value for parameter '{path}timestamp' ({key}).")
    return MetricPoint(
        run=run,
        key=key,
        value=_double(item.get("value"), f"{path}value"),
        timestamp=timestamp,
        step=_long(item.get("step"), f"{path}step") or 0,
        model_id=_string(item.get("model_id"), f"{path}model_id", 40),
        dataset_name=_string(item.get("dataset_name"), f"{path}dataset_name", 500),
        dataset_digest=_string(item.get("dataset_digest"), f"{path}dataset_digest", 100),
    )


def _point_identity(point: MetricPoint) -> tuple:
    value = "NaN" if math.isnan(point.value) else point.value
    return (point.key, point.timestamp, point.step, value)


def _save_points(run: Run, points: list[MetricPoint]) -> None:
    """Store new metric points; one logged again is kept once, as MLflow does.

    MLflow's `log_model` logs the run's points of its step again with the logged model's id:
    the run's point then becomes that model's too, instead of a second point in the history.
    """
    new: dict[tuple, MetricPoint] = {}
    for point in points:
        new.setdefault(_point_identity(point), point)
    existing = MetricPoint.objects.filter(
        run=run,
        key__in={p.key for p in new.values()},
        timestamp__in={p.timestamp for p in new.values()},
        step__in={p.step for p in new.values()},
    )
    claimed = []
    for old in existing:
        if _point_identity(old) not in new:
            continue
        point = new.pop(_point_identity(old))
        if point.model_id and not old.model_id:
            old.model_id = point.model_id
            old.dataset_name = old.dataset_name or point.dataset_name
            old.dataset_digest = old.dataset_digest or point.dataset_digest
            claimed.append(old)
    MetricPoint.objects.bulk_update(claimed, ["model_id", "dataset_name", "dataset_digest"])
    MetricPoint.objects.bulk_create(new.values())


def _add_params(run: Run, params: list[tuple[str, str]]) -> None:
    """A param once logged keeps its value: the same value again is fine, another is refused."""
    changed = [
        {"key": key, "old_value": run.params[key], "new_value": value}
        for key, value in params
        if key in run.params and run.params[key] != value
    ]
    if changed:
        raise invalid(
            f"Changing param values is not allowed. Params were already logged='{changed}'"
            f" for run ID='{run.run_id}'."
        )
    for key, value in params:
        run.params[key] = value


def _set_tag(run: Run, key: str, value: str) -> None:
    run.tags[key] = value
    if key == RUN_NAME_TAG:
        run.name = value[:250]


# ---------------------------------------------------------------------------------------------
# MLflow's JSON


def _tags(tags: dict) -> list[dict]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def _experiment_json(experiment: Experiment) -> dict:
    return {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": f"mlflow-artifacts:/{experiment.pk}",
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": wire.ms(experiment.created_at),
        "last_update_time": wire.ms(experiment.updated_at),
        "tags": _tags(experiment.tags),
    }


def _metric_json(point: MetricPoint, *, run_id: str | None = None) -> dict:
    found = {
        "key": point.key,
        "value": wire.float_value(point.value),
        "timestamp": point.timestamp,
        "step": point.step,
    }
    for name in ("model_id", "dataset_name", "dataset_digest"):
        if getattr(point, name):
            found[name] = getattr(point, name)
    if run_id:
        found["run_id"] = run_id
    return found


def _run_info_json(run: Run, username: str) -> dict:
    info = {
        "run_id": run.run_id,
        "run_uuid": run.run_id,
        "run_name": run.name,
        "experiment_id": str(run.experiment_id),
        "user_id": username,
        "status": run.status,
        "start_time": run.start_time,
        "artifact_uri": run_artifact_uri(run),
        "lifecycle_stage": run.lifecycle_stage,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def _runs_json(runs: list[Run]) -> list[dict]:
    """Whole runs (info, latest metrics, params, tags, inputs, outputs) in two queries."""
    metrics = latest_metrics([run.run_id for run in runs])
    return [
        {
            "info": _run_info_json(run, run.user.username if run.user else ""),
            "data": {
                "metrics": [_metric_json(point) for point in metrics[run.run_id]],
                "params": _tags(run.params),
                "tags": _tags(run.tags),
            },
            "inputs": {
                "dataset_inputs": [i for i in run.inputs if "dataset" in i],
                "model_inputs": [i for i in run.inputs if "dataset" not in i],
            },
            "outputs": {"model_outputs": run.outputs},
        }
        for run in runs
    ]


def _run_json(run_id: str) -> dict:
    return _runs_json([Run.objects.select_related("user").get(pk=run_id)])[0]


def _logged_models_json(models: list[LoggedModel]) -> list[dict]:
    """Logged models with their metrics and the versions registered from them, in three queries."""
    ids = [lm.model_id for lm in models]
    metrics: dict[str, list[MetricPoint]] = {model_id: [] for model_id in ids}
    for point in MetricPoint.objects.filter(model_id__in=ids).order_by("step", "timestamp", "id"):
        metrics[point.model_id].append(point)
    registrations: dict[str, list[dict]] = {model_id: [] for model_id in ids}
    sources = VersionSource.objects.filter(logged_model_id__in=ids).select_related("version__model")
    for source in sources.order_by("version__model__name", "version__number"):
        registrations[str(source.logged_model_id)].append(
            {"name": source.version.model.name, "version": str(source.version.number)}
        )
    return [
        {
            "info": {
                "model_id": lm.model_id,
                "experiment_id": str(lm.experiment_id),
                "name": lm.name,
                "creation_timestamp_ms": wire.ms(lm.created_at),
                "last_updated_timestamp_ms": wire.ms(lm.updated_at),
                "artifact_uri": logged_model_artifact_uri(lm),
                "status": lm.status,
                "status_message": lm.status_message,
                "creator_id": lm.user_id or 0,
                "model_type": lm.model_type,
                "source_run_id": lm.source_run_id or "",
                "tags": _tags(lm.tags),
                "registrations": registrations[lm.model_id],
            },
            "data": {
                "params": _tags(lm.params),
                "metrics": [
                    _metric_json(point, run_id=point.run_id) for point in metrics[lm.model_id]
                ],
            },
        }
        for lm in models
    ]


def _logged_model_json(model_id: str) -> dict:
    return _logged_models_json([LoggedModel.objects.get(pk=model_id)])[0]


# ---------------------------------------------------------------------------------------------
# Filters: the part of MLflow's search grammar the client's own calls use


_CLAUSE = re.compile(
    r"\s*(?P<key>[\w.]+|`[^`]+`|[\w]+\.`[^`]+`|[\w]+\.\"[^\"]+\")\s*"
    r"(?P<op>!=|=|LIKE|ILIKE|NOT IN|IN)\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\((?:[^)'\"]|'[^']*'|\"[^\"]*\")*\))\s*",
    re.IGNORECASE,
)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _filter_clauses(text: str | None) -> list[tuple[str, str, str, str | list[str]]]:
    """`a.b = 'x' AND c IN ('y', 'z')` → [(entity, key, op, value)]; entity "" for attributes."""
    clauses: list[tuple[str, str, str, str | list[str]]] = []
    rest = (text or "").strip()
    while rest:
        match = _CLAUSE.match(rest)
        if match is None:
            raise invalid(
                f"Invalid filter {text!r}: Vetted understands `key = 'value'` clauses (=, !=,"
                " LIKE, ILIKE, IN) joined with AND, on attributes, tags.<key> and params.<key>."
            )
        key = match["key"]
        entity, _, name = (
            key.partition(".") if "." in key and not key.startswith("`") else ("", "", key)
        )
        name = name.strip('`"')
        op = " ".join(match["op"].upper().split())
        raw = match["value"]
        value: str | list[str]
        if raw.startswith("("):
            value = [
                _unquote(v) for v in re.findall(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", raw)
            ]
            if op not in ("IN", "NOT IN"):
                raise invalid(f"Invalid filter {text!r}: a list goes with IN or NOT IN.")
        else:
            value = _unquote(raw)
            if op in ("IN", "NOT IN"):
                raise invalid(f"Invalid filter {text!r}: IN takes a list, ('a', 'b').")
        clauses.append((entity.lower(), name, op, value))
        rest = rest[match.end() :]
        if rest:
            joined = re.match(r"AND\s+", rest, re.IGNORECASE)
            if joined is None:
                raise invalid(f"Invalid filter {text!r}: clauses are joined with AND.")
            rest = rest[joined.end() :]
    return clauses


def _like(pattern: str) -> str:
    return (
        "^"
        + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        + "$"
    )


def _apply(queryset: QuerySet, expression, op: str, value, counter: list[int]) -> QuerySet:
    """Filter `queryset` on `expression` (a field name or a JSON key transform)."""
    if not isinstance(expression, str):
        counter[0] += 1
        alias = f"filtered_{counter[0]}"
        queryset = queryset.alias(**{alias: expression})
        expression = alias
        queryset = queryset.filter(**{f"{alias}__isnull": False})
    lookups = {
        "=": Q(**{expression: value}),
        "!=": ~Q(**{expression: value}),
        "LIKE": Q(**{f"{expression}__regex": _like(str(value))}),
        "ILIKE": Q(**{f"{expression}__iregex": _like(str(value))}),
        "IN": Q(**{f"{expression}__in": value}),
        "NOT IN": ~Q(**{f"{expression}__in": value}),
    }
    try:
        return queryset.filter(lookups[op])
    except (TypeError, ValueError):  # a number compared with text
        raise invalid(f"Invalid filter value {value!r} for this field.") from None


def _filtered(
    queryset: QuerySet, text: str | None, attributes: dict[str, str], entities=("tags", "params")
) -> QuerySet:
    """`queryset` narrowed by an MLflow filter on `attributes` and the JSON columns `entities`."""
    counter = [0]
    for entity, key, op, value in _filter_clauses(text):
        column = {"tag": "tags", "param": "params"}.get(entity, entity)
        if column in entities:
            queryset = _apply(queryset, KeyTextTransform(key, column), op, value, counter)
        elif entity in ("", "attributes", "attribute", "attr") and key in attributes:
            queryset = _apply(queryset, attributes[key], op, value, counter)
        else:
            allowed = [*sorted(attributes), *(f"{e}.<key>" for e in entities)]
            raise invalid(
                f"Vetted cannot filter on {'.'.join(filter(None, [entity, key]))!r}: use"
                f" {', '.join(allowed)}."
            )
    return queryset


def _order_by(clauses: list[str], columns: dict[str, str], what: str) -> list[str]:
    """MLflow's `order_by` strings ("start_time DESC") as ORM orderings."""
    order = []
    for clause in clauses:
        field, _, direction = clause.strip().partition(" ")
        name = field.removeprefix("attributes.").removeprefix("attribute.")
        if name not in columns or direction.strip().upper() not in ("", "ASC", "DESC"):
            raise invalid(
                f"Vetted orders {what} by {', '.join(columns)} (ASC or DESC), not {clause!r}."
            )
        order.append(("-" if direction.strip().upper() == "DESC" else "") + columns[name])
    return order


def _lifecycle(view_type) -> list[LifecycleStage]:
    if view_type is None or view_type == "":
        number = 1
    elif isinstance(view_type, str) and view_type.upper() in VIEW_TYPES:
        number = VIEW_TYPES[view_type.upper()]
    else:
        number = _long(view_type, "view_type") or 1
    return {
        1: [LifecycleStage.ACTIVE],
        2: [LifecycleStage.DELETED],
        3: [LifecycleStage.ACTIVE, LifecycleStage.DELETED],
    }.get(number) or [LifecycleStage.ACTIVE]


def _page(call: Call, queryset: QuerySet, default: int, limit: int) -> tuple[list, dict]:
    size = wire.max_results(call, default, limit)
    offset = wire.page_offset(call.text("page_token"))
    found = list(queryset[offset : offset + size + 1])
    extra = {"next_page_token": wire.page_token(offset + size)} if len(found) > size else {}
    return found[:size], extra


# ---------------------------------------------------------------------------------------------
# Experiments


@endpoint("2.0/mlflow/experiments/get-by-name", "GET", write=False)
def get_experiment_by_name(call: Call) -> dict:
    name = call.required("experiment_name")
    found = list(
        Experiment.objects.filter(name=name, lifecycle_stage=LifecycleStage.ACTIVE)
        .filter(Q(team__isnull=True) | Q(team__in=_visible_team_ids(call)))
        .order_by("pk")
    )
    if len(found) > 1:  # the name in several of the user's teams: the token's team decides
        team = call.team()
        found = [experiment for experiment in found if experiment.team_id == team.pk]
    if not found and name == "Default":
        found = [_default_experiment()]
    if not found:
        raise not_found(f"Could not find experiment with name '{name}'")
    return {"experiment": _experiment_json(found[0])}


@endpoint("2.0/mlflow/experiments/create", "POST", write=True)
def create_experiment(call: Call) -> dict:
    name = _string(call.required("name"), "name", MAX_EXPERIMENT_NAME_LENGTH).strip()
    if not name or len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise invalid(
            f"Invalid experiment name: it must be 1-{MAX_EXPERIMENT_NAME_LENGTH} characters."
        )
    if call.text("artifact_location"):
        raise invalid(
            "Vetted keeps the artifacts it registers itself: create the experiment without an"
            " artifact_location."
        )
    tags = dict(_key_values(call.objects("tags"), "tags", MAX_TAG_VAL_LENGTH, "Tag"))
    team = call.team()
    _require_push(call, team.pk)
    if name == "Default" or Experiment.objects.filter(team=team, name=name).exists():
        raise MlflowError(wire.RESOURCE_ALREADY_EXISTS, f"Experiment(name={name}) already exists.")
    try:
        with transaction.atomic():
            experiment = Experiment.objects.create(
                team=team, name=name, tags=tags, created_by=call.user
            )
    except IntegrityError:
        raise MlflowError(
            wire.RESOURCE_ALREADY_EXISTS, f"Experiment(name={name}) already exists."
        ) from None
    return {"experiment_id": str(experiment.pk)}


@endpoint("2.0/mlflow/experiments/get", "GET", write=False)
def get_experiment(call: Call) -> dict:
    return {"experiment": _experiment_json(_experiment(call, call.required("experiment_id")))}


@endpoint("2.0/mlflow/experiments/search", "POST", "GET", write=False)
def search_experiments(call: Call) -> dict:
    experiments = Experiment.objects.filter(
        Q(team__isnull=True) | Q(team__in=_visible_team_ids(call)),
        lifecycle_stage__in=_lifecycle(call.text("view_type")),
    )
    experiments = _filtered(
        experiments, call.text("filter"), {"name": "name", "experiment_id": "pk"}, ("tags",)
    )
    order = _order_by(
        call.strings("order_by"),
        {
            "name": "name",
            "experiment_id": "pk",
            "creation_time": "created_at",
            "last_update_time": "updated_at",
        },
        "experiments",
    )
    experiments = experiments.order_by(*order, "-created_at", "-pk")
    page, extra = _page(call, experiments, 1000, MAX_EXPERIMENTS_PER_PAGE)
    return {"experiments": [_experiment_json(e) for e in page], **extra}


# ---------------------------------------------------------------------------------------------
# Runs


@endpoint("2.0/mlflow/runs/create", "POST", write=True)
def create_run(call: Call) -> dict:
    experiment = _experiment(call, call.text("experiment_id") or str(DEFAULT_EXPERIMENT_ID))
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise invalid(f"The experiment {experiment.pk} must be in the 'active' state.")
    team_id = _team_for(call, experiment)
    tags = dict(_key_values(call.objects("tags"), "tags", MAX_TAG_VAL_LENGTH, "Tag"))
    run_id = uuid.uuid4().hex
    name = (
        _string(call.text("run_name"), "run_name", MAX_TAG_VAL_LENGTH)
        or tags.get(RUN_NAME_TAG)
        or f"run-{run_id[:8]}"
    )
    if tags.get(RUN_NAME_TAG, name) != name:
        raise invalid(
            f"Both 'run_name' ({name!r}) and tag '{RUN_NAME_TAG}' were set, with different values."
        )
    tags[RUN_NAME_TAG] = name
    start_time = _long(call.body.get("start_time"), "start_time")
    Run.objects.create(
        run_id=run_id,
        experiment=experiment,
        team_id=team_id,
        user=call.user,
        name=name[:250],
        start_time=start_time if start_time is not None else wire.ms(timezone.now()),
        tags=tags,
    )
    return {"run": _run_json(run_id)}


@endpoint("2.0/mlflow/runs/get", "GET", write=False)
def get_run(call: Call) -> dict:
    return {"run": _run_json(_run(call).run_id)}


@endpoint("2.0/mlflow/runs/update", "POST", write=True)
@transaction.atomic
def update_run(call: Call) -> dict:
    run = _run(call, write=True)
    status = call.body.get("status")
    if status is not None and status != "":
        if isinstance(status, int) and not isinstance(status, bool):
            status = RUN_STATUS_NUMBERS.get(status, "")
        if status not in RunStatus.values:
            raise invalid(f"Invalid run status {status!r}: one of {', '.join(RunStatus.values)}.")
        run.status = status
    end_time = _long(call.body.get("end_time"), "end_time")
    if end_time is not None:
        run.end_time = end_time
    run_name = call.text("run_name")
    if run_name:
        _set_tag(run, RUN_NAME_TAG, _string(run_name, "run_name", MAX_TAG_VAL_LENGTH))
    run.save()
    return {"run_info": _run_info_json(run, run.user.username if run.user else "")}


@endpoint("2.0/mlflow/runs/delete", "POST", write=True)
@transaction.atomic
def delete_run(call: Call) -> dict:
    run = _run(call, write=True)
    run.lifecycle_stage = LifecycleStage.DELETED
    run.save(update_fields=["lifecycle_stage"])
    return {}


@endpoint("2.0/mlflow/runs/log-batch", "POST", write=True)
@transaction.atomic
def log_batch(call: Call) -> dict:
    metrics, params, tags = call.objects("metrics"), call.objects("params"), call.objects("tags")
    for kind, items, limit in (
        ("metrics", metrics, MAX_METRICS_PER_BATCH),
        ("params", params, MAX_PARAMS_TAGS_PER_BATCH),
        ("tags", tags, MAX_PARAMS_TAGS_PER_BATCH),
        ("metrics, params, and tags", metrics + params + tags, MAX_ENTITIES_PER_BATCH),
    ):
        if len(items) > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {kind}. Got {len(items)}"
                f" {kind}. Please split up {kind} across multiple requests and try again."
            )
    run = _run(call, write=True)
    points = [_metric(m, f"metrics[{i}].", run) for i, m in enumerate(metrics)]
    new_params = _key_values(params, "params", MAX_PARAM_VAL_LENGTH, "Param")
    keys = [key for key, _ in new_params]
    if len(set(keys)) != len(keys):
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        raise invalid(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the"
            " request contains only one param value per param key."
        )
    new_tags = _key_values(tags, "tags", MAX_TAG_VAL_LENGTH, "Tag")
    _add_params(run, new_params)
    for key, value in new_tags:
        _set_tag(run, key, value)
    if new_params or new_tags:
        run.save(update_fields=["params", "tags", "name"])
    _save_points(run, points)
    return {}


@endpoint("2.0/mlflow/runs/log-metric", "POST", write=True)
@transaction.atomic
def log_metric(call: Call) -> dict:
    run = _run(call, write=True)
    _save_points(run, [_metric(call.body, "", run)])
    return {}


@endpoint("2.0/mlflow/runs/log-parameter", "POST", write=True)
@transaction.atomic
def log_parameter(call: Call) -> dict:
    run = _run(call, write=True)
    key = _name("Param", call.body.get("key"), "key")
    _add_params(run, [(key, _string(call.body.get("value"), "value", MAX_PARAM_VAL_LENGTH))])
    run.save(update_fields=["params"])
    return {}


@endpoint("2.0/mlflow/runs/set-tag", "POST", write=True)
@transaction.atomic
def set_tag(call: Call) -> dict:
    run = _run(call, write=True)
    key = _name("Tag", call.body.get("key"), "key")
    _set_tag(run, key, _string(call.body.get("value"), "value", MAX_TAG_VAL_LENGTH))
    run.save(update_fields=["tags", "name"])
    return {}


@endpoint("2.0/mlflow/runs/delete-tag", "POST", write=True)
@transaction.atomic
def delete_tag(call: Call) -> dict:
    run = _run(call, write=True)
    key = call.required("key")
    if key not in run.tags:
        raise not_found(f"No tag with name: {key} in run with id {run.run_id}")
    del run.tags[key]
    run.save(update_fields=["tags"])
    return {}


def _dataset_input(item: dict, index: int) -> dict:
    path = f"datasets[{index}]"
    dataset = item.get("dataset")
    if not isinstance(dataset, dict):
        raise invalid(f"Missing value for required parameter '{path}.dataset'.")
    checked = {}
    for field, limit, required in (
        ("name", MAX_DATASET_NAME_SIZE, True),
        ("digest", MAX_DATASET_DIGEST_SIZE, True),
        ("source_type", 100, True),
        ("source", MAX_DATASET_SOURCE_SIZE, True),
        ("schema", MAX_DATASET_SCHEMA_SIZE, False),
        ("profile", MAX_DATASET_SOURCE_SIZE, False),
    ):
        value = _string(dataset.get(field), f"{path}.dataset.{field}", limit)
        if required and not value:
            raise invalid(f"Missing value for required parameter '{path}.dataset.{field}'.")
        if value:
            checked[field] = value
    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise invalid(f"Parameter '{path}.tags' must be a list of objects.")
    return {
        "tags": [
            {"key": key, "value": value}
            for key, value in _key_values(tags, f"{path}.tags", 500, "Input tag")
        ],
        "dataset": checked,
    }


@endpoint("2.0/mlflow/runs/log-inputs", "POST", write=True)
@transaction.atomic
def log_inputs(call: Call) -> dict:
    datasets = call.objects("datasets")
    if len(datasets) > MAX_DATASETS_PER_BATCH:
        raise invalid(f"A request can log at most {MAX_DATASETS_PER_BATCH} datasets.")
    run = _run(call, write=True)
    inputs = list(run.inputs)
    seen = {
        (i["dataset"].get("name"), i["dataset"].get("digest")) for i in inputs if "dataset" in i
    }
    for index, item in enumerate(datasets):
        dataset_input = _dataset_input(item, index)
        key = (dataset_input["dataset"]["name"], dataset_input["dataset"]["digest"])
        if key not in seen:  # MLflow keeps a dataset's first input to a run
            seen.add(key)
            inputs.append(dataset_input)
    model_ids = {i["model_id"] for i in inputs if "model_id" in i}
    for index, item in enumerate(call.objects("models")):
        model_id = _string(item.get("model_id"), f"models[{index}].model_id", 40)
        if not model_id:
            raise invalid(f"Missing value for required parameter 'models[{index}].model_id'.")
        if model_id not in model_ids:
            model_ids.add(model_id)
            inputs.append({"model_id": model_id})
    run.inputs = inputs
    run.save(update_fields=["inputs"])
    return {}


@endpoint("2.0/mlflow/runs/outputs", "POST", write=True)
@transaction.atomic
def log_outputs(call: Call) -> dict:
    models = call.objects("models")
    if not models:
        raise invalid("Missing value for required parameter 'models'.")
    run = _run(call, write=True)
    outputs = list(run.outputs)
    for index, item in enumerate(models):
        model_id = _string(item.get("model_id"), f"models[{index}].model_id", 40)
        logged_model = _logged_model(call, model_id)
        step = _long(item.get("step"), f"models[{index}].step", 0)
        if not any(o["model_id"] == logged_model.model_id for o in outputs):
            outputs.append({"model_id": logged_model.model_id, "step": step})
    run.outputs = outputs
    run.save(update_fields=["outputs"])
    return {}


@endpoint("2.0/mlflow/runs/log-model", "POST", write=True)
@transaction.atomic
def log_model(call: Call) -> dict:
    """MLflow 2.x records a logged model's MLmodel in the run's `mlflow.log-model.history` tag."""
    text = _string(call.required("model_json"), "model_json", 10**6)
    try:
        model = json.loads(text)
    except ValueError:
        raise invalid(f"Malformed model info. \n {text[:200]} \n is not a valid JSON.") from None
    if not isinstance(model, dict):
        raise invalid("model_json must be a JSON object.")
    missing = {"artifact_path", "flavors", "utc_time_created", "run_id"} - set(model)
    if missing:
        raise invalid(f"Model json is missing mandatory fields: {sorted(missing)}")
    run = _run(call, write=True)
    history = json.loads(run.tags.get(LOG_MODEL_HISTORY_TAG, "[]"))
    run.tags[LOG_MODEL_HISTORY_TAG] = json.dumps([*history, model])
    run.save(update_fields=["tags"])
    return {}


@endpoint("2.0/mlflow/runs/search", "POST", write=False)
def search_runs(call: Call) -> dict:
    experiment_ids = call.strings("experiment_ids")
    experiments = [_experiment(call, experiment_id).pk for experiment_id in experiment_ids]
    runs = Run.objects.filter(
        experiment_id__in=experiments,
        team__in=_visible_team_ids(call),
        lifecycle_stage__in=_lifecycle(call.text("run_view_type")),
    ).select_related("user")
    runs = _filtered(
        runs,
        call.text("filter"),
        {"run_id": "run_id", "run_name": "name", "status": "status", "user_id": "user__username"},
    )
    order = _order_by(
        call.strings("order_by"),
        {"start_time": "start_time", "end_time": "end_time", "run_name": "name"},
        "runs",
    )
    page, extra = _page(
        call, runs.order_by(*order, "-start_time", "run_id"), 1000, MAX_RUNS_PER_PAGE
    )
    return {"runs": _runs_json(page), **extra}


@endpoint("2.0/mlflow/metrics/get-history", "GET", write=False)
def get_metric_history(call: Call) -> dict:
    run = _run(call)
    key = call.required("metric_key")
    points = MetricPoint.objects.filter(run=run, key=key).order_by("timestamp", "step", "id")
    if call.text("max_results") is None:
        return {"metrics": [_metric_json(p, run_id=run.run_id) for p in points]}
    page, extra = _page(call, points, 25000, 25000)
    return {"metrics": [_metric_json(p, run_id=run.run_id) for p in page], **extra}


# ---------------------------------------------------------------------------------------------
# Logged models (MLflow 3 logs a model as one, then registers `models:/m-<id>`)


def _logged_model_status(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = LOGGED_MODEL_STATUS_NUMBERS.get(value, "")
    if value not in LoggedModelStatus.values:
        raise invalid(
            f"Invalid logged model status {value!r}: one of {', '.join(LoggedModelStatus.values)}."
        )
    return value


@endpoint("2.0/mlflow/logged-models", "POST", write=True, prefix=True)
def create_logged_model_or_log_params(call: Call) -> dict:
    if call.subpath:
        model_id, _, rest = call.subpath.partition("/")
        if rest != "params":
            raise MlflowError(wire.ENDPOINT_NOT_FOUND, f"No MLflow endpoint POST …/{call.subpath}.")
        return log_logged_model_params(call, model_id)
    experiment = _experiment(call, call.required("experiment_id"))
    source_run = None
    source_run_id = call.text("source_run_id")
    if source_run_id:
        source_run = _run(call, field="source_run_id")
    team_id = _team_for(call, experiment)
    if source_run is not None and source_run.team_id != team_id:
        raise invalid("The source run belongs to another team than the logged model would.")
    model_id = f"m-{uuid.uuid4().hex}"
    name = _string(call.text("name"), "name", 500) or model_id
    params = dict(_key_values(call.objects("params"), "params", MAX_PARAM_VAL_LENGTH, "Param"))
    tags = dict(_key_values(call.objects("tags"), "tags", MAX_TAG_VAL_LENGTH, "Tag"))
    LoggedModel.objects.create(
        model_id=model_id,
        experiment=experiment,
        team_id=team_id,
        user=call.user,
        source_run=source_run,
        name=name,
        model_type=_string(call.text("model_type"), "model_type", 100),
        params=params,
        tags=tags,
    )
    return {"model": _logged_model_json(model_id)}


@transaction.atomic
def log_logged_model_params(call: Call, model_id: str) -> dict:
    params = call.objects("params")
    if len(params) > MAX_PARAMS_TAGS_PER_BATCH:
        raise invalid(f"A request can log at most {MAX_PARAMS_TAGS_PER_BATCH} params.")
    logged_model = _logged_model(call, model_id, write=True)
    logged_model.params.update(_key_values(params, "params", MAX_PARAM_VAL_LENGTH, "Param"))
    logged_model.updated_at = timezone.now()
    logged_model.save(update_fields=["params", "updated_at"])
    return {}


@endpoint("2.0/mlflow/logged-models", "GET", write=False, prefix=True)
def get_logged_model(call: Call) -> dict:
    if not call.subpath or "/" in call.subpath:
        raise MlflowError(wire.ENDPOINT_NOT_FOUND, "Vetted serves GET logged-models/<id> only.")
    found = _logged_model(call, call.subpath, allow_deleted=call.boolean("allow_deleted"))
    return {"model": _logged_model_json(found.model_id)}


@endpoint("2.0/mlflow/logged-models", "PATCH", write=True, prefix=True)
@transaction.atomic
def finalize_logged_model_or_set_tags(call: Call) -> dict:
    model_id, _, rest = call.subpath.partition("/")
    if not model_id or rest not in ("", "tags"):
        raise MlflowError(wire.ENDPOINT_NOT_FOUND, f"No MLflow endpoint PATCH …/{call.subpath}.")
    logged_model = _logged_model(call, model_id, write=True)
    if rest == "tags":
        logged_model.tags.update(
            _key_values(call.objects("tags"), "tags", MAX_TAG_VAL_LENGTH, "Tag")
        )
    else:
        status = call.body.get("status")
        if status is None:
            raise invalid("Missing value for required parameter 'status'.")
        logged_model.status = _logged_model_status(status)
    logged_model.updated_at = timezone.now()
    logged_model.save()
    return {"model": _logged_model_json(model_id)} if rest == "" else {}


@endpoint("2.0/mlflow/logged-models", "DELETE", write=True, prefix=True)
@transaction.atomic
def delete_logged_model_or_tag(call: Call) -> dict:
    model_id, _, rest = call.subpath.partition("/")
    if not model_id or not (rest == "" or rest.startswith("tags/")):
        raise MlflowError(wire.ENDPOINT_NOT_FOUND, f"No MLflow endpoint DELETE …/{call.subpath}.")
    logged_model = _logged_model(call, model_id, write=True)
    if rest:
        key = rest.removeprefix("tags/")
        if key not in logged_model.tags:
            raise not_found(f"No tag with key {key!r} on logged model {model_id}.")
        del logged_model.tags[key]
    else:
        logged_model.lifecycle_stage = LifecycleStage.DELETED
    logged_model.updated_at = timezone.now()
    logged_model.save()
    return {}


@endpoint("2.0/mlflow/logged-models/search", "POST", write=False)
def search_logged_models(call: Call) -> dict:
    if "experiment_ids" not in call.body:
        raise invalid("Missing value for required parameter 'experiment_ids'.")
    experiments = [_experiment(call, e).pk for e in call.strings("experiment_ids")]
    models = LoggedModel.objects.filter(
        experiment_id__in=experiments,
        team__in=_visible_team_ids(call),
        lifecycle_stage=LifecycleStage.ACTIVE,
    )
    models = _filtered(
        models,
        call.text("filter"),
        {
            "name": "name",
            "model_id": "model_id",
            "model_type": "model_type",
            "status": "status",
            "source_run_id": "source_run_id",
        },
    )
    order = []
    columns = {
        "name": "name",
        "model_id": "model_id",
        "creation_time": "created_at",
        "creation_timestamp": "created_at",
        "creation_timestamp_ms": "created_at",
        "last_updated_timestamp": "updated_at",
        "last_updated_timestamp_ms": "updated_at",
    }
    for index, clause in enumerate(call.objects("order_by")):
        field = str(clause.get("field_name", "")).removeprefix("attributes.")
        if field not in columns:
            raise invalid(
                f"Vetted orders logged models by {', '.join(columns)}, not"
                f" order_by[{index}].field_name={field!r}."
            )
        ascending = clause.get("ascending", True)
        order.append(("" if ascending is not False else "-") + columns[field])
    page, extra = _page(call, models.order_by(*order, "-created_at", "model_id"), 100, 1000)
    return {"models": _logged_models_json(page), **extra}

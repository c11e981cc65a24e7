"""MLflow's registered-model endpoints on Vetted's models (mlflow/protos/model_registry.proto).

A model is the registry's own RegisteredModel: visible to its team only, created in the token's
team, edited, renamed and deleted through registry.services with the same rules and audit as the
pages and the REST API. MLflow's key-value tags are RegisteredModelTag rows beside it.
"""

from django.db import transaction
from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from registry import services
from registry.access import Action, get_model_for, visible_models
from registry.models import ModelAlias, ModelVersion, RegisteredModel, model_name_validator

from .. import tags as mlflow_tags
from ..entities import (
    model_version_json,
    registered_model_json,
    stage_from_mlflow,
    versions_for_json,
)
from ..filters import model_ordering, parse_model_filter
from ..models import RegisteredModelTag
from ..wire import (
    RESOURCE_ALREADY_EXISTS,
    Call,
    MlflowError,
    check_tag,
    endpoint,
    max_results,
    not_found,
    page_offset,
    page_token,
)

SEARCH_DEFAULT = 100
SEARCH_LIMIT = 1000


def _already_exists(name: str) -> MlflowError:
    # MLflow's wording (its tests match it); the same whether or not the caller may see the model.
    return MlflowError(
        RESOURCE_ALREADY_EXISTS,
        f"Registered Model (name={name}) already exists. Model names are unique across all"
        " teams in Vetted.",
    )


def model_named(call: Call, name: str, need: Action = Action.VIEW) -> RegisteredModel:
    """The model the caller may see, or MLflow's RESOURCE_DOES_NOT_EXIST (another team's model
    is as absent as one that never was); PERMISSION_DENIED when seen but `need` is not allowed."""
    try:
        return get_model_for(call.user, name, need)
    except Http404:
        raise not_found(f"Registered Model with name={name} not found") from None


def latest_per_stage(models: list[RegisteredModel]) -> dict[int, list[ModelVersion]]:
    """MLflow's latest_versions: each model's newest version in each stage, in one query (a
    window, not DISTINCT ON, so SQLite under `make run` answers it too)."""
    found: dict[int, list[ModelVersion]] = {model.pk: [] for model in models}
    if not models:
        return found
    newest = (
        ModelVersion.objects.filter(model__in=[model.pk for model in models])
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("model_id"), F("stage")], order_by=F("number").desc()
            )
        )
        .filter(rank=1)
        .order_by("model_id", "stage")
    )
    for version in versions_for_json(newest):
        found[version.model_id].append(version)
    return found


def models_json(models: list[RegisteredModel]) -> list[dict]:
    """Models as MLflow's JSON; `models` come from `with_mlflow_relations`."""
    latest = latest_per_stage(models)
    return [
        registered_model_json(
            model,
            latest=sorted(latest[model.pk], key=lambda version: version.number),
            aliases=list(model.aliases.all()),
            tags={tag.key: tag.value for tag in model.mlflow_tags.all()},
        )
        for model in models
    ]


def with_mlflow_relations(models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
    return models.select_related("created_by").prefetch_related(
        Prefetch("aliases", queryset=ModelAlias.objects.select_related("version")),
        Prefetch("mlflow_tags", queryset=RegisteredModelTag.objects.order_by("key")),
    )


def model_json(model: RegisteredModel) -> dict:
    return models_json(list(with_mlflow_relations(RegisteredModel.objects.filter(pk=model.pk))))[0]


@endpoint("2.0/mlflow/registered-models/create", "POST", write=True)
@transaction.atomic
def create(call: Call) -> dict:
    name = call.required("name")
    tags = call.tags()
    description = call.text("description", "") or ""
    model_name_validator(name)
    # Checked before the team: a later run's create meets its own model, and must hear
    # RESOURCE_ALREADY_EXISTS even from a user who belongs to several teams.
    if RegisteredModel.objects.filter(name=name).exists():
        raise _already_exists(name)
    for key, value in tags.items():
        check_tag(key, value)
    try:
        model = services.create_model(
            actor=call.user, name=name, team=call.team(), description=description
        )
    except services.ModelNameTaken:
        raise _already_exists(name) from None
    for key, value in tags.items():
        mlflow_tags.set_model_tag(actor=call.user, model=model, key=key, value=value)
    return {"registered_model": model_json(model)}


@endpoint("2.0/mlflow/registered-models/get", "GET", write=False)
def get(call: Call) -> dict:
    model = model_named(call, call.required("name"))
    return {"registered_model": model_json(model)}


@endpoint("2.0/mlflow/registered-models/search", "GET", write=False)
def search(call: Call) -> dict:
    limit = max_results(call, SEARCH_DEFAULT, SEARCH_LIMIT)
    offset = page_offset(call.text("page_token"))
    models = (
        visible_models(call.user)
        .filter(parse_model_filter(call.text("filter")))
        .order_by(*model_ordering(call.strings("order_by")))
    )
    page = list(with_mlflow_relations(models)[offset : offset + limit + 1])
    answer: dict = {"registered_models": models_json(page[:limit])}
    if len(page) > limit:
        answer["next_page_token"] = page_token(offset + limit)
    return answer


@endpoint("2.0/mlflow/registered-models/update", "PATCH", write=True)
def update(call: Call) -> dict:
    model = model_named(call, call.required("name"), Action.EDIT)
    description = call.text("description")
    if description is not None:
        model = services.update_model(actor=call.user, model=model, description=description)
    return {"registered_model": model_json(model)}


@endpoint("2.0/mlflow/registered-models/rename", "POST", write=True)
def rename(call: Call) -> dict:
    model = model_named(call, call.required("name"), Action.EDIT)
    new_name = call.required("new_name")
    try:
        model = services.rename_model(actor=call.user, model=model, new_name=new_name)
    except services.ModelNameTaken:
        raise _already_exists(new_name) from None
    return {"registered_model": model_json(model)}


@endpoint("2.0/mlflow/registered-models/delete", "DELETE", write=True)
def delete(call: Call) -> dict:
    model = model_named(call, call.required("name"))
    services.delete_model(actor=call.user, model=model)
    return {}


@endpoint("2.0/mlflow/registered-models/set-tag", "POST", write=True)
@transaction.atomic
def set_tag(call: Call) -> dict:
    model = model_named(call, call.required("name"))
    mlflow_tags.require_tagging(call.user, model)
    key = call.required("key")
    mlflow_tags.set_model_tag(
        actor=call.user, model=model, key=key, value=call.text("value", "") or ""
    )
    return {}


@endpoint("2.0/mlflow/registered-models/delete-tag", "DELETE", write=True)
@transaction.atomic
def delete_tag(call: Call) -> dict:
    model = model_named(call, call.required("name"))
    mlflow_tags.require_tagging(call.user, model)
    key = call.required("key")
    mlflow_tags.delete_model_tag(actor=call.user, model=model, key=key)
    return {}


@endpoint("2.0/mlflow/registered-models/get-latest-versions", "POST", "GET", write=False)
def get_latest_versions(call: Call) -> dict:
    model = model_named(call, call.required("name"))
    stages = {stage_from_mlflow(name) for name in call.strings("stages")}
    latest = sorted(
        (
            version
            for version in latest_per_stage([model])[model.pk]
            if not stages or version.stage in stages
        ),
        key=lambda version: version.number,
    )
    return {"model_versions": [model_version_json(version) for version in latest]}

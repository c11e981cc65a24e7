"""MLflow's model-version, alias and stage endpoints, over the registry's own versions.

Every change goes through the registry's services, so a version made here has its files'
sha256s and a load check, and a stage or alias moved here passes the same gates as on the
pages, the API and the CLI (a refusal is PERMISSION_DENIED with the gate's message).
"""

from django.db import transaction
from django.http import Http404

from registry import access, services
from registry.models import ModelAlias, ModelVersion, RegisteredModel

from .. import artifact_store, freeze, tags
from ..entities import model_version_json, stage_from_mlflow, versions_for_json
from ..filters import parse_version_filter, version_ordering
from ..wire import Call, endpoint, invalid, max_results, not_found, page_offset, page_token

BASE = "2.0/mlflow/model-versions"
ALIAS = "2.0/mlflow/registered-models/alias"
# MLflow's client asks for 10 000 versions a page by default, and its server allows 200 000.
SEARCH_DEFAULT = 10_000
SEARCH_LIMIT = 200_000

LATEST = "latest"  # MLflow's reserved alias: the highest version
# MLflow's server: the most recently changed first.
DEFAULT_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]


def _model(call: Call) -> RegisteredModel:
    name = call.required("name")
    try:
        return access.get_model_for(call.user, name)
    except Http404:
        raise not_found(f"Registered Model with name={name} not found") from None


def _number(call: Call) -> int:
    call.required("version")
    number = call.integer("version")
    assert number is not None
    return number


def _version(call: Call) -> ModelVersion:
    """The version `name`/`version` names, with what model_version_json reads."""
    model = _model(call)
    number = _number(call)
    version = versions_for_json(ModelVersion.objects.filter(model=model, number=number)).first()
    if version is None:
        raise not_found(f"Model Version (name={model.name}, version={number}) not found")
    version.model = model  # with the caller's role, so the services' checks need no query
    return version


def _answer(version: ModelVersion) -> dict:
    fresh = versions_for_json(ModelVersion.objects.filter(pk=version.pk)).get()
    return {"model_version": model_version_json(fresh)}


@endpoint(f"{BASE}/create", "POST", write=True)
def create(call: Call) -> dict:
    model = _model(call)
    version = freeze.register_from_source(
        call=call,
        model=model,
        source=call.required("source"),
        run_id=call.text("run_id"),
        description=call.text("description", "") or "",
        tags=call.tags(),
        run_link=call.text("run_link", "") or "",
        model_id=call.text("model_id"),
    )
    return _answer(version)


@endpoint(f"{BASE}/get", "GET", write=False)
def get(call: Call) -> dict:
    return {"model_version": model_version_json(_version(call))}


@endpoint(f"{BASE}/search", "GET", write=False)
def search(call: Call) -> dict:
    limit = max_results(call, SEARCH_DEFAULT, SEARCH_LIMIT)
    offset = page_offset(call.text("page_token"))
    versions = ModelVersion.objects.for_user(call.user).filter(
        parse_version_filter(call.text("filter", "") or "")
    )
    ordering = version_ordering(call.strings("order_by") or DEFAULT_ORDER)
    versions = versions_for_json(versions.order_by(*ordering))
    page = list(versions[offset : offset + limit + 1])
    answer: dict = {"model_versions": [model_version_json(v) for v in page[:limit]]}
    if len(page) > limit:
        answer["next_page_token"] = page_token(offset + limit)
    return answer


@endpoint(f"{BASE}/update", "PATCH", write=True)
def update(call: Call) -> dict:
    version = _version(call)
    description = call.text("description")
    if description is not None:
        with transaction.atomic():
            services.update_version_description(
                actor=call.user, version=version, description=description
            )
            tags.touch(version)
    return _answer(version)


@endpoint(f"{BASE}/delete", "DELETE", write=True)
def delete(call: Call) -> dict:
    services.delete_version(actor=call.user, version=_version(call))
    return {}


@endpoint(f"{BASE}/set-tag", "POST", write=True)
def set_tag(call: Call) -> dict:
    version = _version(call)
    key = call.required("key")
    value = call.text("value", "") or ""
    tags.check_version_tag(key, value)
    tags.require_tagging(call.user, version.model)
    tags.set_version_tag(actor=call.user, version=version, key=key, value=value)
    return {}


@endpoint(f"{BASE}/delete-tag", "DELETE", write=True)
def delete_tag(call: Call) -> dict:
    version = _version(call)
    key = call.required("key")
    tags.check_version_tag(key, "")
    tags.require_tagging(call.user, version.model)
    tags.delete_version_tag(actor=call.user, version=version, key=key)
    return {}


@endpoint(f"{BASE}/get-download-uri", "GET", write=False)
def get_download_uri(call: Call) -> dict:
    return {"artifact_uri": artifact_store.version_artifact_uri(_version(call))}


@endpoint(f"{BASE}/transition-stage", "POST", write=True)
def transition_stage(call: Call) -> dict:
    """MLflow's stages are Vetted's. One version holds staging or production at a time, so the
    one there before is archived whatever `archive_existing_versions` says."""
    version = _version(call)
    stage = stage_from_mlflow(call.required("stage"))
    call.boolean("archive_existing_versions")  # checked for its type; see the docstring
    services.set_stage(actor=call.user, version=version, stage=stage)
    return _answer(version)


@endpoint(ALIAS, "POST", write=True)
def set_alias(call: Call) -> dict:
    model = _model(call)
    alias = call.required("alias")
    if alias.lower() == LATEST:
        raise invalid("'latest' alias name (case insensitive) is reserved.")
    number = _number(call)
    version = ModelVersion.objects.filter(model=model, number=number).first()
    if version is None:
        raise not_found(f"Model Version (name={model.name}, version={number}) not found")
    version.model = model
    services.set_alias(actor=call.user, version=version, alias=alias)
    return {}


@endpoint(ALIAS, "DELETE", write=True)
def delete_alias(call: Call) -> dict:
    """Deleting an alias that is not there succeeds, as in MLflow."""
    model = _model(call)
    try:
        services.delete_alias(actor=call.user, model=model, alias=call.required("alias"))
    except ModelAlias.DoesNotExist:
        pass
    return {}


@endpoint(ALIAS, "GET", write=False)
def get_by_alias(call: Call) -> dict:
    model = _model(call)
    alias = call.required("alias")
    versions = versions_for_json(ModelVersion.objects.filter(model=model))
    if alias.lower() == LATEST:
        version = versions.order_by("-number").first()
        if version is None:
            raise not_found(f"Latest version not found for model {model.name}.")
        return {"model_version": model_version_json(version)}
    version = versions.filter(aliases__name=alias).first()
    if version is None:
        # MLflow answers an unknown alias with 400, and its client relies on that code.
        raise invalid(f"Registered model alias {alias} not found.")
    return {"model_version": model_version_json(version)}

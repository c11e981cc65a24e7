"""Registry rows as MLflow's JSON entities (mlflow/protos/model_registry.proto).

The client parses these into its protos, ignoring unknown fields: versions are strings,
timestamps integer milliseconds, and a version's `status` is always "READY" (anything else makes
`register_model` poll); whether the version loads is the read-only tag `vetted.load_check`.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet

from registry.models import ModelAlias, ModelVersion, RegisteredModel, Stage

from .wire import invalid, ms

STAGE_TO_MLFLOW: dict[str, str] = {
    Stage.NONE: "None",
    Stage.STAGING: "Staging",
    Stage.PRODUCTION: "Production",
    Stage.ARCHIVED: "Archived",
}
# MLflow compares stage names case-insensitively ("production" and "Production" are one).
MLFLOW_TO_STAGE: dict[str, str] = {name.lower(): stage for stage, name in STAGE_TO_MLFLOW.items()}

LOAD_CHECK_TAG = "vetted.load_check"


def stage_from_mlflow(name: str) -> str:
    """Vetted's stage for an MLflow stage name, or INVALID_PARAMETER_VALUE naming the choices."""
    stage = MLFLOW_TO_STAGE.get(name.strip().lower())
    if stage is None:
        choices = ", ".join(STAGE_TO_MLFLOW.values())
        raise invalid(f"Invalid Model Version stage: {name}. Value must be one of {choices}.")
    return stage


def _username(user) -> str:
    return user.username if user is not None else ""


def version_source(version: ModelVersion):
    """The VersionSource of a version registered through MLflow, else None."""
    try:
        return version.mlflow_source
    except ObjectDoesNotExist:
        return None


def versions_for_json(versions: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    """What model_version_json reads, loaded in a constant number of queries."""
    return versions.select_related(
        "model", "created_by", "latest_load_check", "mlflow_source"
    ).prefetch_related("mlflow_tags", "aliases")


def model_version_json(version: ModelVersion) -> dict:
    source = version_source(version)
    tags = [{"key": tag.key, "value": tag.value} for tag in version.mlflow_tags.all()]
    tags.append({"key": LOAD_CHECK_TAG, "value": version.load_status})
    answer = {
        "name": version.model.name,
        "version": str(version.number),
        "creation_timestamp": ms(version.created_at),
        "last_updated_timestamp": ms(source.updated_at if source else version.created_at),
        "user_id": _username(version.created_by),
        "current_stage": STAGE_TO_MLFLOW[version.stage],
        "description": version.description,
        "source": source.source if source else "",
        "run_id": source.mlflow_run_id if source else "",
        "run_link": source.run_link if source else "",
        "status": "READY",
        "status_message": "",
        "tags": tags,
        "aliases": sorted(alias.name for alias in version.aliases.all()),
    }
    if source is not None and source.logged_model_id:
        answer["model_id"] = source.logged_model_id
    return answer


def registered_model_json(
    model: RegisteredModel,
    *,
    latest: list[ModelVersion],
    aliases: list[ModelAlias],
    tags: dict[str, str],
) -> dict:
    """`latest` is the newest version in each stage (MLflow's latest_versions); `aliases` need
    their version loaded (select_related("version"))."""
    return {
        "name": model.name,
        "creation_timestamp": ms(model.created_at),
        "last_updated_timestamp": ms(model.updated_at),
        "user_id": _username(model.created_by),
        "description": model.description,
        "latest_versions": [model_version_json(version) for version in latest],
        "tags": [{"key": key, "value": value} for key, value in tags.items()],
        "aliases": [
            {"alias": alias.name, "version": str(alias.version.number)}
            for alias in sorted(aliases, key=lambda alias: alias.name)
        ],
    }

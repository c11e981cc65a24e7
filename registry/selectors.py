"""Reads that pages and the API share, with the joins that keep query counts constant."""

from django.db.models import Prefetch, Q, QuerySet

from .access import visible_models
from .models import LoadCheck, ModelAlias, ModelVersion, RegisteredModel, Stage, Tag


def model_list(
    user, *, search: str = "", team: str = "", tag: str = "", stage: str = ""
) -> QuerySet[RegisteredModel]:
    models = visible_models(user)
    if search:
        models = models.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if team:
        models = models.filter(team__slug=team)
    if tag:
        models = models.filter(tags__name=tag.lower())
    if stage in (Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED):
        models = models.filter(versions__stage=stage)
    return with_model_relations(models.distinct().order_by("-updated_at", "name"))


def with_model_relations(models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
    return models.select_related("team", "created_by", "updated_by").prefetch_related(
        "tags",
        Prefetch(
            "versions",
            # production before staging on every row
            queryset=ModelVersion.objects.filter(stage__in=[Stage.STAGING, Stage.PRODUCTION])
            .only("id", "model_id", "number", "stage")
            .order_by("stage"),
            to_attr="staged_versions",
        ),
        Prefetch("aliases", queryset=ModelAlias.objects.select_related("version")),
    )


def version_details() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related(
        "model__team", "created_by", "created_with_token", "latest_load_check"
    ).prefetch_related("artifacts", "aliases")


def versions_of(model: RegisteredModel) -> QuerySet[ModelVersion]:
    return (
        model.versions.select_related("created_by", "latest_load_check")
        .prefetch_related("aliases")
        .defer("signature", "flavors", "requirements")
        .order_by("-number")
    )


def tags_in_use(user) -> QuerySet[Tag]:
    """Tags on at least one model the user can see: the choices of the list's tag filter."""
    return Tag.objects.filter(models__in=visible_models(user)).distinct().order_by("name")


def versions_numbered(model: RegisteredModel, numbers: list[int]) -> dict[int, ModelVersion]:
    versions = model.versions.select_related("created_by", "latest_load_check").filter(
        number__in=numbers
    )
    return {version.number: version for version in versions}


def earlier_load_checks(version: ModelVersion) -> list[LoadCheck]:
    """The attempts before the latest, newest first: the history under the load check."""
    checks = version.load_checks.order_by("-attempt")
    if version.latest_load_check_id is not None:
        checks = checks.exclude(pk=version.latest_load_check_id)
    return list(checks[:20])


def load_checks_of(version: ModelVersion) -> QuerySet[LoadCheck]:
    return version.load_checks.order_by("-attempt")


def last_stage_change_id(version: ModelVersion, from_stage: str, to_stage: str) -> int | None:
    """The id of the version's latest move from `from_stage` to `to_stage`: names one move for
    those who heard of it through `stages.stage_moved` (e.g. to tell people of it once)."""
    return (
        version.stage_changes.filter(from_stage=from_stage, to_stage=to_stage)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )

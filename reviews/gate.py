"""Reviews' gates in the registry: staging and production only by a merged request, and the
aliases a policy names for a stage only onto versions that went through it.

Registered in ReviewsConfig.ready(). Archiving and moving to none stay direct (the registry's own
rule: DevOps and owners). One exception: an emergency rollback of production to an archived
version, made directly by DevOps or a team owner with a reason; it is recorded as
`stage.rollback` and announced to the model's watchers in the move's transaction. A refusal
names the page where the move is asked for, as an absolute address (settings.SITE_URL), so an
MLflow client or a CI log shows where to go.
"""

from django.conf import settings
from django.urls import reverse

from registry.models import ModelVersion, Stage
from registry.stages import ALLOW, GateAnswer

from . import policies
from .models import PromotionRequest, RequestState, TargetStage
from .services import record_rollback

NAME = "reviews"


def promotion_gate(*, actor, version, to_stage: str, via: str = "", reason: str = "") -> GateAnswer:
    if to_stage not in TargetStage.values or via == "seed":
        return ALLOW
    if via == "request":
        merged = PromotionRequest.objects.filter(
            version=version, to_stage=to_stage, state=RequestState.MERGED
        ).exists()
        return ALLOW if merged else GateAnswer(False, "no merged promotion request asks for it")
    if to_stage == Stage.PRODUCTION and version.stage == Stage.ARCHIVED:
        if not reason.strip():
            return GateAnswer(
                False,
                "an emergency rollback of production needs a reason, kept in the audit log"
                " (or open a promotion request for it).",
            )
        previous = (
            ModelVersion.objects.filter(model_id=version.model_id, stage=Stage.PRODUCTION)
            .values_list("number", flat=True)
            .first()
        )
        return GateAnswer(
            True,
            after_move=lambda: record_rollback(
                actor=actor, version=version, previous=previous, reason=reason.strip()
            ),
        )
    return GateAnswer(
        False,
        f"moves to {to_stage} go through a promotion request: {where_to_ask(version, to_stage)}",
    )


def alias_gate(*, actor, version, alias: str, reason: str = "") -> GateAnswer:
    """An alias the policy names for a stage moves only to a version in that stage or with a
    merged request to it, so an app loading `@champion` runs what the review let through.
    Removing the alias is not asked here: it ships nothing."""
    for stage in policies.stages_of_alias(
        team_id=version.model.team_id, model_id=version.model_id, alias=alias
    ):
        went_through = (
            version.stage == stage
            or PromotionRequest.objects.filter(
                version=version, to_stage=stage, state=RequestState.MERGED
            ).exists()
        )
        if not went_through:
            return GateAnswer(
                False,
                f"@{alias} stands for {stage} in the review policy of {version.model.name}, so"
                f" it moves only to a version in {stage} or with a merged promotion request to"
                f" it: {where_to_ask(version, stage)}",
            )
    return ALLOW


def where_to_ask(version: ModelVersion, to_stage: str) -> str:
    """Where this version's move to `to_stage` is asked for: its open request's page if it has
    one, else the version's page with the “Request promotion” form (and the API and CLI)."""
    site = settings.SITE_URL.rstrip("/")
    name, number = version.model.name, version.number
    open_number = (
        PromotionRequest.objects.filter(version=version, to_stage=to_stage, state=RequestState.OPEN)
        .values_list("number", flat=True)
        .first()
    )
    if open_number is not None:
        page = site + reverse("reviews:request", args=[open_number])
        return (
            f"request #{open_number} for version {number} is open at {page}; it is merged once"
            " it has the approvals your team's policy asks for."
        )
    page = site + reverse("registry:version_detail", args=[name, number])
    return (
        f"open a promotion request for version {number} at {page} (the “Request promotion”"
        f" form), with POST /api/v1/models/{name}/requests/ or `vetted request {name} {number}"
        f" --to {to_stage}`, and get the approvals your team's policy asks for."
    )

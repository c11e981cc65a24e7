"""Reviews' gate in the registry's stage machine: staging and production only by a merged request.

Registered in ReviewsConfig.ready(). Archiving and moving to none stay direct (the registry's own
rule: DevOps and owners). One exception: an emergency rollback of production to an archived
version, made directly by DevOps or a team owner with a reason; it is recorded as
`stage.rollback` and announced to the model's watchers in the move's transaction.
"""

from registry.models import ModelVersion, Stage
from registry.stages import ALLOW, GateAnswer

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
    name, number = version.model.name, version.number
    return GateAnswer(
        False,
        f"moves to {to_stage} go through a promotion request: open a promotion request for"
        f" version {number} (the “Request promotion” form on its page,"
        f" POST /api/v1/models/{name}/requests/ or `vetted request {name} {number} --to"
        f" {to_stage}`) and get the approvals your team's policy asks for.",
    )

"""Watchers hear of promotions and rollbacks: a listener on the registry's `stage_moved`."""

import logging

from django.db import transaction
from django.urls import reverse

from registry import selectors as registry_selectors
from registry.models import Stage

from . import selectors
from .models import Event
from .services import notify

logger = logging.getLogger(__name__)


def tell_watchers(*, version, from_stage: str, to_stage: str, actor, reason: str, **signal) -> None:
    """Sent after the move committed: a version entered staging or production (from archived
    to production: a rollback). Everyone watching the model but the actor hears of it once."""
    if to_stage not in (Stage.STAGING, Stage.PRODUCTION):
        return
    model = version.model
    change_id = registry_selectors.last_stage_change_id(version, from_stage, to_stage)
    if from_stage == Stage.ARCHIVED and to_stage == Stage.PRODUCTION:
        title = f"{model.name} rolled back to v{version.number} in production"
    else:
        title = f"{model.name} v{version.number} is now in {to_stage}"
    by = f"By {actor.username}." if actor is not None else ""
    body = f"{by} Reason: {reason}" if reason else by
    try:
        with transaction.atomic():
            notify(
                event=Event.PROMOTION,
                recipients=selectors.watchers_of(model),
                actor=actor,
                model=model,
                title=title,
                body=body,
                url=reverse("registry:version_detail", args=[model.name, version.number]),
                dedupe_key=f"stage:{change_id}",
            )
    except Exception:
        # The move is committed; failing to tell watchers must not turn it into an error page.
        logger.exception("Could not notify the watchers of %s v%s", model.name, version.number)

"""Writing the audit log: services call `record()` in the transaction of the change they make."""

from typing import Any

from django.db import transaction

from . import context
from .models import AuditEvent


def record(
    *,
    actor,
    verb: str,
    object_type: str,
    object_id: Any,
    object_name: str,
    team=None,
    model_name: str = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEvent:
    """One event for a change the caller is making now; rolled back with it if it fails."""
    assert transaction.get_connection().in_atomic_block, "record() belongs inside the change"
    origin = context.current()
    return AuditEvent.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=getattr(actor, "username", ""),
        token_id=origin.token_id,
        token_name=origin.token_name,
        channel=origin.channel,
        verb=verb,
        object_type=object_type,
        object_id=str(object_id),
        object_name=object_name[:300],
        team_id=getattr(team, "pk", None),
        team_slug=getattr(team, "slug", ""),
        model_name=model_name,
        before=before,
        after=after,
        reason=reason,
    )

"""Audit events written as the other apps write theirs: through audit.services.record()."""

from django.db import transaction

from audit.services import record


def logged(count=1, *, team, model="", verb="comment.posted", actor=None, **fields):
    """`count` events of `verb` in `team` (about `model`), as one service call would write them."""
    fields.setdefault("object_type", "thread")
    fields.setdefault("object_name", f"{model} thread" if model else "a thread")
    with transaction.atomic():
        return [
            record(actor=actor, verb=verb, object_id=number, team=team, model_name=model, **fields)
            for number in range(1, count + 1)
        ]

"""Audit events written as the other apps write theirs: through audit.services.record()."""

import re

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


def rows(html: str) -> list[str]:
    """The rows of an audit page's table (the History tab's or /audit/'s), as HTML."""
    if "<tbody>" not in html:
        return []
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)


def verbs(html: str) -> list[str]:
    return [re.search(r"<code>(.*?)</code>", row)[1] for row in rows(html)]

"""The audit log as CSV (`GET /api/v1/audit/?format=csv`): written while the rows are read, a
batch at a time, so exporting the whole log never holds it in memory."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from itertools import islice

from rest_framework.renderers import BaseRenderer

from .. import verbs
from ..models import AuditEvent, AuditEventQuerySet

COLUMNS = [
    "at",
    "actor",
    "channel",
    "token",
    "verb",
    "in_words",
    "object_type",
    "object_id",
    "object",
    "team",
    "model",
    "reason",
    "before",
    "after",
]
BATCH = 500
# A spreadsheet takes a cell starting with one of these for a formula, which could run or fetch
# something when the export is opened (CSV injection); a leading apostrophe makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def cells(event: AuditEvent) -> list[str]:
    """One event as the row COLUMNS name."""
    return [
        event.at.isoformat(),
        event.actor_name,
        event.channel,
        event.token_name,
        event.verb,
        verbs.describe(event.verb, event.before, event.after),
        event.object_type,
        event.object_id,
        event.object_name,
        event.team_slug,
        event.model_name,
        event.reason,
        _json(event.before),
        _json(event.after),
    ]


class CSVRenderer(BaseRenderer):
    """Rows of cells as CSV text, each cell made safe to open in a spreadsheet."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Iterable[list[str]], accepted_media_type=None, renderer_context=None):
        text = io.StringIO()
        csv.writer(text).writerows([spreadsheet_safe(cell) for cell in row] for row in data)
        return text.getvalue()


def csv_lines(events: AuditEventQuerySet, renderer: CSVRenderer) -> Iterator[str]:
    """The header, then the events BATCH at a time, read from the database as they are sent."""
    yield renderer.render([COLUMNS])
    rows = (cells(event) for event in events.iterator(chunk_size=BATCH))
    while batch := list(islice(rows, BATCH)):
        yield renderer.render(batch)

"""Reads of the audit log that the API and the page share."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from .models import AuditEvent, AuditEventQuerySet

FILTERS = ("model", "team", "actor", "verb", "since", "until")


def _moment(name: str, value: str) -> datetime:
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError(f"{name} must be an ISO 8601 time, e.g. 2026-12-01T09:30:00Z.")
    return moment


def events_for(
    user,
    *,
    model: str = "",
    team: str = "",
    actor: str = "",
    verb: str = "",
    since: str = "",
    until: str = "",
) -> AuditEventQuerySet:
    """What `user` may read, newest first, narrowed by the filters given (empty: no filter)."""
    events = AuditEvent.objects.for_user(user)
    if model:
        events = events.filter(model_name=model)
    if team:
        events = events.filter(team_slug=team)
    if actor:
        events = events.filter(actor_name=actor)
    if verb:
        events = events.filter(verb=verb)
    if since:
        events = events.filter(at__gte=_moment("since", since))
    if until:
        events = events.filter(at__lt=_moment("until", until))
    return events

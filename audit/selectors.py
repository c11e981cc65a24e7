"""Reads of the audit log that the API, its CSV export and the pages share."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from . import verbs
from .models import AuditEvent, AuditEventQuerySet

EVENTS_PER_PAGE = 50


@dataclass(frozen=True)
class EventFilters:
    """The filters of the log, named as in the query string; an empty one does not filter."""

    model: str = ""
    team: str = ""  # slug
    actor: str = ""  # user name
    verb: str = ""
    object: str = ""  # the object's name as the log gives it: "iris v3", "iris@champion"
    since: str = ""  # a date (from its start) or an ISO 8601 time, inclusive
    until: str = ""  # a date (through its end) or an ISO 8601 time, exclusive

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> "EventFilters":
        return cls(**{name: params.get(name, "").strip() for name in cls.names()})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)

    def query(self, **extra: str) -> str:
        """The filters given, as a query string (plus `extra`): for links that keep them."""
        query = QueryDict(mutable=True)
        query.update({name: value for name, value in asdict(self).items() if value})
        query.update(extra)
        return query.urlencode()


NO_FILTERS = EventFilters()


def _moment(name: str, value: str, *, end_of_day: bool) -> datetime:
    """A date alone covers the whole day in the server's time zone (TIME_ZONE)."""
    try:
        day = parse_date(value)
        moment = None if day is not None else parse_datetime(value)
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationError(
            f"{name} must be a date (2026-12-01) or an ISO 8601 time, e.g. 2026-12-01T09:30:00Z."
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def events_for(user, filters: EventFilters = NO_FILTERS) -> AuditEventQuerySet:
    """What `user` may read (AuditEventQuerySet.for_user), newest first, narrowed by `filters`.

    Raises ValidationError for a time that cannot be read, before any query runs.
    """
    events = AuditEvent.objects.for_user(user)
    exact = {
        "model_name": filters.model,
        "team_slug": filters.team,
        "actor_name": filters.actor,
        "verb": filters.verb,
        "object_name": filters.object,
    }
    events = events.filter(**{field: value for field, value in exact.items() if value})
    if filters.since:
        events = events.filter(at__gte=_moment("since", filters.since, end_of_day=False))
    if filters.until:
        events = events.filter(at__lt=_moment("until", filters.until, end_of_day=True))
    return events


@dataclass
class EventPage:
    """One page of the log as the pages show it, with what its filter form offers."""

    page: Page
    filters: EventFilters
    error: str
    narrowed: bool  # by more than the page itself is about
    verbs: list[tuple[str, str]]  # (verb, in words) of the events in scope
    actors: list[str]
    teams: list[str]  # empty on a model's history: it has one team

    @property
    def export_query(self) -> str:
        """The CSV export of the same filters (GET /api/v1/audit/?format=csv&…)."""
        return self.filters.query(format="csv")


def _choices(events: AuditEventQuerySet, field: str, chosen: str = "") -> list[str]:
    """The values `field` takes in `events`, and the one chosen even if none match it (so the
    select still shows what the page is filtered by)."""
    values = events.exclude(**{field: ""}).order_by(field).values_list(field, flat=True)
    found = list(values.distinct())
    return found + [chosen] if chosen and chosen not in found else found


def event_page(user, params: Mapping[str, str], *, model: str = "") -> EventPage:
    """The page the query string `params` asks for; with `model`, that model's history only.

    A filter that cannot be read leaves the log unfiltered and says why in `error`.
    """
    scope = EventFilters(model=model)
    filters = EventFilters.from_query(params)
    if model:
        filters = replace(filters, model=model, team="")
    error = ""
    try:
        events = events_for(user, filters)
    except ValidationError as invalid:
        error = " ".join(invalid.messages)
        events = events_for(user, scope)
    in_scope = events_for(user, scope)
    return EventPage(
        page=Paginator(events, EVENTS_PER_PAGE).get_page(params.get("page")),
        filters=filters,
        error=error,
        narrowed=filters != scope,
        verbs=[(verb, verbs.label(verb)) for verb in _choices(in_scope, "verb", filters.verb)],
        actors=_choices(in_scope, "actor_name"),
        teams=[] if model else _choices(in_scope, "team_slug", filters.team),
    )

"""Reads the inbox, the preferences page, the watch panel and the API share."""

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet

from registry.access import visible_models
from registry.models import RegisteredModel

from .models import Event, Notification, Preference, Watch


def inbox(user, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications about models they can still see (through a team-limited token:
    that team's), newest first."""
    lines = Notification.objects.filter(recipient=user, model__in=visible_models(user))
    if unread_only:
        lines = lines.filter(read_at__isnull=True)
    return lines.select_related("actor", "model")


def unread_count(user) -> int:
    return inbox(user, unread_only=True).count()


def preferences_of(user: User) -> dict[str, dict[str, bool]]:
    """Every event's channels for the user, in the order of `Event`; both on without a row."""
    chosen = {
        pref.event: {"in_app": pref.in_app, "email": pref.email}
        for pref in Preference.objects.filter(user=user)
    }
    return {event: chosen.get(event, {"in_app": True, "email": True}) for event in Event.values}


def watch_state(user: User, model: RegisteredModel) -> dict:
    """Whether the user watches the model, and how many people do: one query."""
    counts = Watch.objects.filter(model=model).aggregate(
        watchers=Count("id"), mine=Count("id", filter=Q(user=user))
    )
    return {"watching": counts["mine"] > 0, "watchers": counts["watchers"]}


def watched_models(user: User) -> QuerySet[RegisteredModel]:
    return visible_models(user).filter(watches__user=user).select_related("team").order_by("name")


def watchers_of(model: RegisteredModel) -> QuerySet[User]:
    return User.objects.filter(pk__in=Watch.objects.filter(model=model).values("user_id"))

"""Reads of accounts that pages and the API share."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from .access import token_team_id
from .models import Team


def teams_of(user: User | AnonymousUser) -> QuerySet[Team]:
    """The teams the user belongs to (all, for a superuser), narrowed by a team-limited token."""
    if not user.is_authenticated:
        return Team.objects.none()
    teams = Team.objects.all() if user.is_superuser else Team.objects.filter(memberships__user=user)
    limited = token_team_id(user)
    return teams.filter(pk=limited) if limited is not None else teams

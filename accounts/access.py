"""Who may do what with accounts' objects, and the one team a limited API token allows.

A request made with a token limited to a team sees its user through that token: every app's
access rules ask `token_team_id(user)` and reach that team's objects only, even for a superuser.
"""

from django.contrib.auth.models import AnonymousUser, User

from .models import ApiToken


def limit_to_token(user: User, token: ApiToken) -> None:
    """Called by token authentication for the request's user instance (never shared)."""
    user.token_team_id = token.team_id  # type: ignore[attr-defined]


def token_team_id(user: User | AnonymousUser) -> int | None:
    return getattr(user, "token_team_id", None)

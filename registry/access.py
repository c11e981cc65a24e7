"""Who may do what to which model: one set of rules for pages and the API alike.

Models are visible only to members of their team. Within a team, the role decides:
data scientists and DevOps push versions, data scientists edit descriptions, DevOps move stages
and aliases; owners may do all of it; app developers and viewers read.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.access import token_team_id
from accounts.models import Membership, Role, Team
from vetted.rows import Columns, attach, fetch_one, table

from .models import MODEL_NAME_PATTERN, ModelVersion, RegisteredModel


@dataclass(frozen=True)
class Caller:
    """A user's role in a model's team, fetched with the model so checks need no second query."""

    user_id: int
    role: str | None
    is_owner: bool | None


class Action(StrEnum):
    VIEW = "view"
    PUSH = "push"
    EDIT = "edit"
    STAGE = "stage"


ROLE_ACTIONS: dict[str, set[Action]] = {
    Role.DATA_SCIENTIST: {Action.VIEW, Action.PUSH, Action.EDIT},
    Role.DEVOPS: {Action.VIEW, Action.PUSH, Action.STAGE},
    Role.APP_DEVELOPER: {Action.VIEW},
    Role.VIEWER: {Action.VIEW},
}


def team_memberships(user: User | AnonymousUser) -> dict[int, Membership]:
    """The user's memberships by team id, cached on the user object for one request."""
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_vetted_memberships", None)
    if cached is None:
        memberships = Membership.objects.filter(user=user)
        limited = token_team_id(user)
        if limited is not None:
            memberships = memberships.filter(team_id=limited)
        cached = {m.team_id: m for m in memberships}
        setattr(user, "_vetted_memberships", cached)  # noqa: B010 - a per-request cache on the user
    return cached


def team_allows(user: User | AnonymousUser, team_id: int, action: Action) -> bool:
    if token_team_id(user) not in (None, team_id):
        return False
    if user.is_authenticated and user.is_superuser:
        return True
    membership = team_memberships(user).get(team_id)
    if membership is None:
        return False
    return _role_allows(membership.role, membership.is_owner, action)


def _role_allows(role: str | None, is_owner: bool | None, action: Action) -> bool:
    return role is not None and (bool(is_owner) or action in ROLE_ACTIONS[role])


def can(user: User | AnonymousUser, action: Action, model: RegisteredModel) -> bool:
    if token_team_id(user) not in (None, model.team_id):
        return False
    caller = getattr(model, "caller", None)
    if caller is not None and caller.user_id == user.pk:  # fetched by get_model_for for this user
        return user.is_superuser or _role_allows(caller.role, caller.is_owner, action)
    return team_allows(user, model.team_id, action)


def visible_models(user: User | AnonymousUser) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.for_user(user)


def teams_allowing(user: User | AnonymousUser, action: Action) -> QuerySet[Team]:
    if user.is_authenticated and user.is_superuser:
        limited = token_team_id(user)
        return Team.objects.filter(pk=limited) if limited is not None else Team.objects.all()
    ids = [tid for tid in team_memberships(user) if team_allows(user, tid, action)]
    return Team.objects.filter(id__in=ids)


@cache
def _model_lookup() -> tuple[str, tuple[Columns, ...]]:
    """The model by name with its team and the caller's membership in it (or NULLs)."""
    model = Columns(RegisteredModel, "m")
    team = Columns(Team, "t")
    membership = Columns(Membership, "ms", ["role", "is_owner"])
    sql = (
        f"SELECT {model.sql}, {team.sql}, {membership.sql} FROM {table(RegisteredModel)} m"
        f" JOIN {table(Team)} t ON {team.column('id')} = {model.column('team')}"
        f" LEFT JOIN {table(Membership)} ms ON {membership.column('team')} = {model.column('team')}"
        f" AND {membership.column('user')} = %s WHERE {model.column('name')} = %s"
    )
    return sql, (model, team, membership)


def get_model_for(user, name: str, need: Action = Action.VIEW) -> RegisteredModel:
    """The model called `name`: 404 if the user can't see it, 403 if they can but may not act.

    One query, with the model's team and the caller's membership in it joined: the API's hot
    paths (resolve, register) start here, so its SQL is built once (vetted/rows.py).
    """
    # A name no model can have is not looked up.
    if not user.is_authenticated or not re.fullmatch(MODEL_NAME_PATTERN, name):
        raise Http404(f"No model named {name!r}.")
    sql, parts = _model_lookup()
    found = fetch_one(sql, [user.pk, name], *parts)
    if found is None:
        raise Http404(f"No model named {name!r}.")
    model, team, (role, is_owner) = found
    attach(model, "team", team)
    setattr(model, "caller", Caller(user.pk, role, is_owner))  # noqa: B010
    if not can(user, Action.VIEW, model):
        raise Http404(f"No model named {name!r}.")
    if not can(user, need, model):
        raise PermissionDenied(f"Your role in team {team.name} does not allow this.")
    return model


def get_version_for(user, name: str, number: int, need: Action = Action.VIEW) -> ModelVersion:
    model = get_model_for(user, name, need)
    try:
        version = ModelVersion.objects.select_related(
            "created_by", "created_with_token", "latest_load_check"
        ).get(model=model, number=number)
    except ModelVersion.DoesNotExist:
        raise Http404(f"Model {name!r} has no version {number}.") from None
    attach(version, "model", model)  # with the caller's role: later checks need no query
    return version

"""Who may do what to which model: one set of rules for pages and the API alike.

Models are visible only to members of their team. Within a team, the role decides:
data scientists and DevOps push versions, data scientists edit descriptions, DevOps move stages
and aliases; owners may do all of it; app developers and viewers read.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.http import Http404

from .models import Membership, ModelVersion, RegisteredModel, Role, Team


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
        cached = {m.team_id: m for m in Membership.objects.filter(user=user)}
        setattr(user, "_vetted_memberships", cached)  # noqa: B010 - a per-request cache on the user
    return cached


def team_allows(user: User | AnonymousUser, team_id: int, action: Action) -> bool:
    if user.is_authenticated and user.is_superuser:
        return True
    membership = team_memberships(user).get(team_id)
    if membership is None:
        return False
    return _role_allows(membership.role, membership.is_owner, action)


def _role_allows(role: str | None, is_owner: bool | None, action: Action) -> bool:
    return role is not None and (bool(is_owner) or action in ROLE_ACTIONS[role])


def can(user: User | AnonymousUser, action: Action, model: RegisteredModel) -> bool:
    caller = getattr(model, "caller", None)
    if caller is not None and caller.user_id == user.pk:  # fetched by get_model_for for this user
        return user.is_superuser or _role_allows(caller.role, caller.is_owner, action)
    return team_allows(user, model.team_id, action)


def visible_models(user: User | AnonymousUser) -> QuerySet[RegisteredModel]:
    if not user.is_authenticated:
        return RegisteredModel.objects.none()
    if user.is_superuser:
        return RegisteredModel.objects.all()
    return RegisteredModel.objects.filter(team_id__in=list(team_memberships(user)))


def teams_allowing(user: User | AnonymousUser, action: Action) -> QuerySet[Team]:
    if user.is_authenticated and user.is_superuser:
        return Team.objects.all()
    ids = [tid for tid in team_memberships(user) if team_allows(user, tid, action)]
    return Team.objects.filter(id__in=ids)


def get_model_for(user, name: str, need: Action = Action.VIEW) -> RegisteredModel:
    """The model called `name`: 404 if the user can't see it, 403 if they can but may not act.

    One query, with the caller's membership in the model's team joined: the API's hot paths
    (resolve, register) start here.
    """
    if not user.is_authenticated:
        raise Http404(f"No model named {name!r}.")
    try:
        model = (
            RegisteredModel.objects.select_related("team")
            .annotate(
                mine=FilteredRelation(
                    "team__memberships", condition=Q(team__memberships__user=user)
                ),
                my_role=F("mine__role"),
                my_ownership=F("mine__is_owner"),
            )
            .get(name=name)
        )
    except RegisteredModel.DoesNotExist:
        raise Http404(f"No model named {name!r}.") from None
    setattr(model, "caller", Caller(user.pk, model.my_role, model.my_ownership))  # noqa: B010
    if not can(user, Action.VIEW, model):
        raise Http404(f"No model named {name!r}.")
    if not can(user, need, model):
        raise PermissionDenied(f"Your role in team {model.team.name} does not allow this.")
    return model


def get_version_for(user, name: str, number: int, need: Action = Action.VIEW) -> ModelVersion:
    model = get_model_for(user, name, need)
    version = (
        ModelVersion.objects.select_related("model__team", "created_by", "created_with_token")
        .filter(model=model, number=number)
        .first()
    )
    if version is None:
        raise Http404(f"Model {name!r} has no version {number}.")
    return version

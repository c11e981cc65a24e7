"""Every write to promotion requests, reviews and policies: one function per state change.

Each is atomic and records its audit event in the same transaction; a request leaves `open`
only under a lock on its row, so two merges (or two last approvals with auto-merge) at once
make exactly one promotion. Merging calls the registry's `set_stage`, so the promotion, the
request's state, the audit log and the notifications commit or roll back together.
"""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, Membership, Role, Team, TokenScope
from audit.services import record
from discussions.mentions import names_in
from notifications.models import Event
from notifications.services import notify
from registry import access, stages
from registry import services as registry_services
from registry.access import Action
from registry.models import ModelVersion, RegisteredModel, Stage, alias_name_validator
from vetted.api import json_input
from vetted.api.errors import Conflict

from . import checks, policies, selectors
from .models import (
    Decision,
    Policy,
    PromotionRequest,
    RequestKind,
    RequestState,
    Review,
    TargetStage,
)

MAX_TEXT = 10_000
REVIEW_SCOPE_NEEDED = (
    "Approving, requesting changes and merging are a person's decisions: use the web page, or a"
    " personal token with the review scope (manage.py create_token USER --scopes"
    " read,write,review). This token does not have it."
)


class RequestNotOpen(Conflict):
    """The request was merged, withdrawn or closed since the caller looked: 409."""


def request_url(request: PromotionRequest) -> str:
    return reverse("reviews:request", args=[request.number])


def _label(request: PromotionRequest) -> str:
    version = f"{request.model.name} v{request.version.number}"
    return f"request #{request.number}: {version} → {request.to_stage}"


def _record_request(actor, verb: str, request: PromotionRequest, **changes) -> None:
    record(
        actor=actor,
        verb=verb,
        object_type="request",
        object_id=request.number,
        object_name=_label(request),
        team=request.model.team,
        model_name=request.model.name,
        **changes,
    )


def _clean_text(text: str, what: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise ValidationError(f"The {what} is at most {MAX_TEXT} characters.")
    json_input.check(text, field=what)
    return text


def _role(actor: User, team_id: int) -> str | None:
    return selectors.role_in(actor, team_id)


def is_team_owner(actor: User, team_id: int) -> bool:
    membership = access.team_memberships(actor).get(team_id)
    return actor.is_superuser or bool(membership and membership.is_owner)


def _not_open(request: PromotionRequest, what: str) -> RequestNotOpen:
    return RequestNotOpen(
        f"Request #{request.number} is {request.get_state_display().lower()} already: {what}"
        " Reload the page to see where it stands."
    )


def _locked(request: PromotionRequest) -> PromotionRequest:
    """The request's row, locked until the transaction ends, as it is now."""
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("model__team", "version", "author")
        .get(pk=request.pk)
    )


# --- Opening -----------------------------------------------------------------------------------


def _new_request(**fields) -> PromotionRequest:
    """Numbered one past the highest; a concurrent opening that took the number makes us retry."""
    version = fields["version"]
    for _ in range(5):
        number = (PromotionRequest.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                return PromotionRequest.objects.create(number=number, **fields)
        except IntegrityError:
            existing = _open_request_of(version, fields["to_stage"])
            if existing is not None:
                raise _duplicate(existing) from None
    raise Conflict("Many requests were opened at this moment; try again.")


def _open_request_of(version: ModelVersion, to_stage: str) -> PromotionRequest | None:
    return PromotionRequest.objects.filter(
        version=version, to_stage=to_stage, state=RequestState.OPEN
    ).first()


def _duplicate(existing: PromotionRequest) -> ValidationError:
    return ValidationError(
        f"Request #{existing.number} already asks for this move; review or withdraw it there."
    )


@transaction.atomic
def open_request(
    *,
    actor: User,
    version: ModelVersion,
    to_stage: str,
    message: str = "",
    token: ApiToken | None = None,
) -> PromotionRequest:
    """Ask to move `version` to staging or production (production from archived: a rollback).

    Those whose role can approve it hear of it; with a policy that merges automatically and
    asks for nothing more, it is merged at once.
    """
    model = version.model
    if not access.can(actor, Action.PUSH, model):
        raise PermissionDenied(
            f"Your role in team {model.team.name} does not allow opening promotion requests."
        )
    if to_stage not in TargetStage.values:
        raise ValidationError("A request moves a version to staging or production.")
    if version.stage == to_stage:
        raise ValidationError(f"Version {version.number} is already in {to_stage}.")
    stages.check_transition(version.stage, to_stage)
    message = _clean_text(message, "message")
    existing = _open_request_of(version, to_stage)
    if existing is not None:
        raise _duplicate(existing)
    rollback = to_stage == Stage.PRODUCTION and version.stage == Stage.ARCHIVED
    request = _new_request(
        model=model,
        version=version,
        to_stage=to_stage,
        kind=RequestKind.ROLLBACK if rollback else RequestKind.PROMOTE,
        author=actor,
        author_token=token,
        message=message,
    )
    _record_request(
        actor,
        "request.opened",
        request,
        after={"version": version.number, "to_stage": to_stage, "kind": request.kind},
        reason=message[:1000],
    )
    policy = selectors.policy_of(request)
    reviewers = Membership.objects.filter(
        team_id=model.team_id, role__in=policy.eligible_roles()
    ).select_related("user")
    if not policy.author_may_approve:
        reviewers = reviewers.exclude(user=actor)
    notify(
        event=Event.REVIEW_REQUESTED,
        recipients=[m.user for m in reviewers],
        actor=actor,
        model=model,
        title=f"Review requested: {model.name} v{version.number} to {to_stage} (#{request.number})",
        body=message,
        url=request_url(request),
        dedupe_key=f"request:{request.number}:opened",
    )
    _tell_mentioned(request, text=message, actor=actor, anchor="opening", key="message")
    if policy.auto_merge and selectors.status_of(request).ready:
        _merge(actor=actor, request=request)
    return request


# --- Reviews -----------------------------------------------------------------------------------


def _check_may_decide(actor: User, request: PromotionRequest, policy, token) -> None:
    if token is not None and not token.has_scope(TokenScope.REVIEW):
        raise PermissionDenied(REVIEW_SCOPE_NEEDED)
    if actor.pk == request.author_id and not policy.author_may_approve:
        raise PermissionDenied(
            "You opened this request: under your team's policy its author does not approve it"
            " or request changes. Ask a reviewer."
        )
    role = _role(actor, request.model.team_id)
    if role not in policy.eligible_roles():
        names = ", ".join(policies.role_label(r) for r in sorted(policy.eligible_roles()))
        raise PermissionDenied(
            f"Under team {request.model.team.name}'s policy for {request.to_stage}, approvals"
            f" come from: {names}. Your role cannot approve or request changes here."
        )


def _record_review(actor, verb: str, review: Review, **changes) -> None:
    request = review.request
    who = getattr(review.reviewer, "username", "someone removed")
    record(
        actor=actor,
        verb=verb,
        object_type="review",
        object_id=review.pk,
        object_name=f"{review.get_decision_display().lower()} by {who} on {_label(request)}",
        team=request.model.team,
        model_name=request.model.name,
        **changes,
    )


def _dismiss(review: Review, *, reason: str, actor) -> None:
    review.dismissed_at = timezone.now()
    review.dismissed_reason = reason[:300]
    review.save(update_fields=["dismissed_at", "dismissed_reason"])
    _record_review(
        actor, "review.dismissed", review, before={"decision": review.decision}, reason=reason
    )


def _tell_mentioned(request: PromotionRequest, *, text: str, actor, anchor: str, key: str) -> None:
    """Team members @mentioned in the request's opening message or a review's hear of it once,
    as from a comment (discussions finds the mentions); the request's author never does: they
    wrote the message or already heard of the review."""
    names = names_in(text) if text else set()
    if not names:
        return
    people = User.objects.filter(
        username__in=names, memberships__team_id=request.model.team_id
    ).distinct()
    if request.author_id is not None:
        people = people.exclude(pk=request.author_id)
    notify(
        event=Event.MENTION,
        recipients=people,
        actor=actor,
        model=request.model,
        title=f"{actor} mentioned you on request #{request.number}"
        f" ({request.model.name} v{request.version.number} to {request.to_stage})",
        body=text[:500],
        url=f"{request_url(request)}#{anchor}",
        dedupe_key=f"request:{request.number}:{key}:mention",
    )


@transaction.atomic
def give_review(
    *,
    actor: User,
    request: PromotionRequest,
    decision: str,
    body: str = "",
    token: ApiToken | None = None,
) -> Review:
    """Approve, request changes or comment. A new approve or request-changes replaces (dismisses)
    the reviewer's earlier one; an approval remembers the checks' results it saw. The last
    approval merges the request when its policy says so."""
    if decision not in Decision.values:
        raise ValidationError(f"A decision is one of: {', '.join(Decision.values)}.")
    body = _clean_text(body, "review")
    request = _locked(request)
    role = _role(actor, request.model.team_id)
    if role is None and not actor.is_superuser:
        raise PermissionDenied(f"You are not in team {request.model.team.name}.")
    if not request.is_open:
        raise _not_open(request, "your review was not recorded.")
    if role == Role.VIEWER:
        raise PermissionDenied("Viewers read requests; they do not review or comment on them.")
    policy = selectors.policy_of(request)
    if decision != Decision.COMMENT:
        _check_may_decide(actor, request, policy, token)
        for earlier in request.reviews.filter(reviewer=actor, dismissed_at=None).exclude(
            decision=Decision.COMMENT
        ):
            earlier.request = request
            _dismiss(earlier, reason="replaced by a newer review", actor=actor)
    states = selectors.check_states(checks.evaluate(request, list(policy.checks)))
    review = Review.objects.create(
        request=request,
        reviewer=actor,
        reviewer_role=role or "",
        decision=decision,
        body=body,
        checks_seen=states if decision == Decision.APPROVE else {},
    )
    _record_review(actor, "review.given", review, after={"decision": decision}, reason=body[:1000])
    changes = decision == Decision.REQUEST_CHANGES
    if request.author is not None:
        what = {
            Decision.APPROVE: "approved",
            Decision.REQUEST_CHANGES: "requested changes on",
            Decision.COMMENT: "commented on",
        }[Decision(decision)]
        notify(
            event=Event.CHANGES_REQUESTED if changes else Event.REVIEW_RECEIVED,
            recipients=[request.author],
            actor=actor,
            model=request.model,
            title=f"{actor.username} {what} your request #{request.number}"
            f" ({request.model.name} v{request.version.number} to {request.to_stage})",
            body=body,
            url=request_url(request),
            dedupe_key=f"request:{request.number}:review:{review.pk}",
        )
    _tell_mentioned(
        request,
        text=review.body,
        actor=review.reviewer,
        anchor=f"review-{review.pk}",
        key=f"review:{review.pk}",
    )
    if decision == Decision.APPROVE and policy.auto_merge:
        if selectors.status_of(request).ready:
            _merge(actor=actor, request=request)
    return review


# --- Merging, withdrawing, closing -------------------------------------------------------------


class NotReady(PermissionDenied):
    """The policy is not met yet: 403, with what is missing."""


def may_merge(actor: User, request: PromotionRequest) -> bool:
    """Its author, DevOps and team owners merge (once the policy is met)."""
    return actor.pk == request.author_id or access.can(actor, Action.STAGE, request.model)


@transaction.atomic
def merge(
    *, actor: User, request: PromotionRequest, token: ApiToken | None = None
) -> PromotionRequest:
    """Promote the version as the request asks, once its policy is met: the request's state,
    the stage move (archiving the previous holder), the audit log and the notifications commit
    together, or none of them."""
    request = _locked(request)
    if _role(actor, request.model.team_id) is None and not actor.is_superuser:
        raise PermissionDenied(f"You are not in team {request.model.team.name}.")
    if not request.is_open:
        raise _not_open(request, "nothing was merged.")
    if token is not None and not token.has_scope(TokenScope.REVIEW):
        raise PermissionDenied(REVIEW_SCOPE_NEEDED)
    if not may_merge(actor, request):
        raise PermissionDenied(
            "The request's author, DevOps and team owners merge requests; your role does not."
        )
    return _merge(actor=actor, request=request)


def _merge(*, actor: User, request: PromotionRequest) -> PromotionRequest:
    """Under the request's row lock, with the caller's permission checked."""
    status = selectors.status_of(request)
    if not status.ready:
        raise NotReady(
            f"Request #{request.number} cannot be merged yet: {'; '.join(status.missing)}."
        )
    now = timezone.now()
    PromotionRequest.objects.filter(pk=request.pk, state=RequestState.OPEN).update(
        state=RequestState.MERGED, merged_by=actor, closed_at=now, updated_at=now
    )
    request.state, request.merged_by, request.closed_at = RequestState.MERGED, actor, now
    version = ModelVersion.objects.select_related("model__team").get(pk=request.version_id)
    registry_services.set_stage(
        actor=actor,
        version=version,
        stage=request.to_stage,
        reason=f"promotion request #{request.number}",
        via="request",
    )
    _record_request(
        actor,
        "request.merged",
        request,
        before={"state": RequestState.OPEN},
        after={
            "state": RequestState.MERGED,
            "approvals": [r.reviewer.username for r in status.approvals if r.reviewer],
        },
    )
    return request


def may_withdraw(actor: User, request: PromotionRequest) -> bool:
    return actor.pk == request.author_id or is_team_owner(actor, request.model.team_id)


@transaction.atomic
def withdraw(*, actor: User, request: PromotionRequest) -> PromotionRequest:
    """Its author (or a team owner) takes the request back."""
    request = _locked(request)
    if not may_withdraw(actor, request):
        raise PermissionDenied("Only the request's author or a team owner withdraws it.")
    if not request.is_open:
        raise _not_open(request, "nothing was withdrawn.")
    return _end(actor, request, RequestState.WITHDRAWN, "request.withdrawn", "")


@transaction.atomic
def close(*, actor: User, request: PromotionRequest, reason: str) -> PromotionRequest:
    """DevOps or a team owner closes a request that will not be merged (e.g. its version was
    superseded), saying why."""
    reason = _clean_text(reason, "reason")
    if not reason:
        raise ValidationError("Say why the request is closed.")
    request = _locked(request)
    if not access.can(actor, Action.STAGE, request.model):
        raise PermissionDenied("DevOps and team owners close requests; your role does not.")
    if not request.is_open:
        raise _not_open(request, "nothing was closed.")
    return _end(actor, request, RequestState.CLOSED, "request.closed", reason)


def _end(actor, request: PromotionRequest, state: str, verb: str, reason: str) -> PromotionRequest:
    now = timezone.now()
    PromotionRequest.objects.filter(pk=request.pk, state=RequestState.OPEN).update(
        state=state, close_reason=reason[:1000], closed_at=now, updated_at=now
    )
    request.state, request.close_reason, request.closed_at = state, reason[:1000], now
    _record_request(
        actor,
        verb,
        request,
        before={"state": RequestState.OPEN},
        after={"state": state},
        reason=reason,
    )
    return request


# --- Approvals that went stale -----------------------------------------------------------------


def _dismiss_stale(request: PromotionRequest, *, reason: str, actor, everything: bool) -> int:
    """Dismiss the request's approvals that saw other check results (all, with `everything`)."""
    states = selectors.check_states(
        checks.evaluate(request, list(selectors.policy_of(request).checks))
    )
    dismissed = 0
    for review in request.reviews.filter(decision=Decision.APPROVE, dismissed_at=None):
        if everything or review.checks_seen != states:
            review.request = request
            _dismiss(review, reason=reason, actor=actor)
            dismissed += 1
    return dismissed


@transaction.atomic
def dismiss_stale_approvals(*, model_id: int) -> int:
    """After a stage move of the model: approvals of its open requests whose checks' results
    have changed since (e.g. "not worse than production" now compares with another version)."""
    dismissed = 0
    for request in PromotionRequest.objects.filter(
        model_id=model_id, state=RequestState.OPEN
    ).select_related("model__team", "version"):
        dismissed += _dismiss_stale(
            request, reason="the checks' results changed", actor=None, everything=False
        )
    return dismissed


# --- Emergency rollback ------------------------------------------------------------------------


def record_rollback(
    *, actor: User, version: ModelVersion, previous: int | None, reason: str
) -> None:
    """A direct rollback of production (allowed by the gate, inside set_stage's transaction) is
    recorded here; the watchers hear of it from notifications' `stage_moved` listener, as of
    every move into production, with the reason."""
    model = version.model
    record(
        actor=actor,
        verb="stage.rollback",
        object_type="version",
        object_id=version.pk,
        object_name=f"{model.name} v{version.number}",
        team=model.team,
        model_name=model.name,
        before={"production": previous},
        after={"production": version.number},
        reason=reason,
    )


# --- Policies ----------------------------------------------------------------------------------

REVIEWING_ROLES = [r for r in Role.values if r != Role.VIEWER]


def _clean_policy(required_approvals, required_roles, checks_specs) -> tuple[int, list, list]:
    if isinstance(required_approvals, bool) or not isinstance(required_approvals, int):
        raise ValidationError("required_approvals must be a whole number.")
    if not 0 <= required_approvals <= 20:
        raise ValidationError("required_approvals is 0 to 20.")
    if not isinstance(required_roles, list) or any(
        r not in REVIEWING_ROLES for r in required_roles
    ):
        raise ValidationError(f"required_roles are some of: {', '.join(REVIEWING_ROLES)}.")
    roles = sorted(set(required_roles), key=REVIEWING_ROLES.index)
    if len(roles) > required_approvals:
        raise ValidationError(
            "Each approval comes from one person with one role: ask for at least as many"
            " approvals as required roles."
        )
    json_input.check(checks_specs, field="checks")
    return required_approvals, roles, checks.clean_checks(checks_specs)


MAX_POLICY_ALIASES = 20


def _clean_aliases(aliases) -> list[str]:
    """Valid alias names, each once (without regard to case), in the order given."""
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValidationError("aliases is a list of alias names.")
    if len(aliases) > MAX_POLICY_ALIASES:
        raise ValidationError(f"A policy names at most {MAX_POLICY_ALIASES} aliases.")
    cleaned: dict[str, str] = {}
    for alias in aliases:
        try:
            alias_name_validator(alias)
        except ValidationError:
            raise ValidationError(
                f"aliases: {alias[:60]!r} is not an alias name (1-50 letters, digits, dashes or"
                " underscores, starting with a letter)."
            ) from None
        if alias.lower() in Stage.values:
            raise ValidationError(f"aliases: {alias!r} is a stage's name, never an alias.")
        cleaned.setdefault(alias.lower(), alias)
    return list(cleaned.values())


@transaction.atomic
def set_policy(
    *,
    actor: User,
    team: Team,
    to_stage: str,
    model: RegisteredModel | None = None,
    required_approvals: int,
    required_roles: list[str] | None = None,
    author_may_approve: bool = False,
    auto_merge: bool = False,
    checks: list | None = None,
    aliases: list[str] | None = None,
) -> Policy:
    """Create or replace the team's policy for a stage (or one model's). Approvals given on open
    requests whose policy this changes are dismissed: they approved under other rules. Its
    `aliases` stand for the stage (reviews.gate.alias_gate); aliases already set stay where
    they point."""
    if not is_team_owner(actor, team.pk):
        raise PermissionDenied(f"Only owners of team {team.name} change its review policies.")
    if to_stage not in TargetStage.values:
        raise ValidationError("A policy is for staging or production.")
    if model is not None and model.team_id != team.pk:
        raise ValidationError(f"Model {model.name} is not in team {team.name}.")
    approvals, roles, cleaned = _clean_policy(
        required_approvals, required_roles or [], checks or []
    )
    stage_aliases = _clean_aliases(aliases if aliases is not None else [])
    affected = list(
        PromotionRequest.objects.filter(
            model__team=team, to_stage=to_stage, state=RequestState.OPEN
        ).select_related("model__team", "version")
    )
    if model is not None:
        affected = [r for r in affected if r.model_id == model.pk]
    before = {r.pk: selectors.policy_of(r).request_rules() for r in affected}
    existing = Policy.objects.filter(team=team, to_stage=to_stage, model=model).first()
    was = policies.from_row(existing, "").as_dict() if existing else None
    policy, _ = Policy.objects.update_or_create(
        team=team,
        model=model,
        to_stage=to_stage,
        defaults={
            "required_approvals": approvals,
            "required_roles": roles,
            "author_may_approve": bool(author_may_approve),
            "auto_merge": bool(auto_merge),
            "checks": cleaned,
            "aliases": stage_aliases,
            "updated_by": actor,
        },
    )
    after = policies.from_row(policy, "").as_dict()
    record(
        actor=actor,
        verb="policy.changed",
        object_type="policy",
        object_id=policy.pk,
        object_name=f"{model.name if model else team.name} → {to_stage}",
        team=team,
        model_name=model.name if model else "",
        before=was,
        after=after,
    )
    for request in affected:
        request._policy = None  # type: ignore[attr-defined]
        if selectors.policy_of(request).request_rules() != before[request.pk]:
            _dismiss_stale(request, reason="the policy changed", actor=actor, everything=True)
    return policy

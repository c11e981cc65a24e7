"""Reads of requests that pages, the API and the CLI (through the API) share.

`status_of()` is the one place that decides what a request still needs: its checks, the
approvals that count, the changes requested. `whats_missing()` says it in plain sentences.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.urls import reverse

from accounts.models import Role
from audit import selectors as audit_selectors
from audit.models import AuditEvent
from discussions import selectors as discussion_selectors
from discussions.anchors import Anchor
from discussions.models import Thread
from notifications import selectors as notification_selectors
from notifications.models import Event, Notification
from registry.access import team_memberships
from registry.models import ModelVersion, Stage

from . import checks, policies
from .checks import CheckResult
from .models import Decision, Policy, PromotionRequest, RequestState, Review, TargetStage
from .policies import EffectivePolicy


@dataclass
class Status:
    policy: EffectivePolicy
    checks: list[CheckResult]
    approvals: list[Review] = field(default_factory=list)  # those that count
    changes_requested: list[Review] = field(default_factory=list)
    missing_roles: list[str] = field(default_factory=list)
    approvals_short: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.missing

    @property
    def waiting(self) -> bool:
        """A check is still pending (an evaluation runs): the page looks again by itself."""
        return any(result.state == checks.PENDING for result in self.checks)


def check_states(results: list[CheckResult]) -> dict[str, str]:
    return {result.name: result.state for result in results}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def policy_of(request: PromotionRequest) -> EffectivePolicy:
    cached = getattr(request, "_policy", None)
    if cached is None:
        cached = policies.policy_for(
            team_id=request.model.team_id, model_id=request.model_id, to_stage=request.to_stage
        )
        request._policy = cached  # type: ignore[attr-defined]
    return cached


def approval_counts(review: Review, request: PromotionRequest, policy, states: dict) -> bool:
    """An approval counts while it is not dismissed, comes from a role the policy names (never
    the author's own, unless the policy allows it) and saw the checks as they are now."""
    return (
        review.is_active
        and review.decision == Decision.APPROVE
        and (policy.author_may_approve or review.reviewer_id != request.author_id)
        and review.reviewer_role in policy.eligible_roles()
        and review.checks_seen == states
    )


def status_of(request: PromotionRequest) -> Status:
    policy = policy_of(request)
    results = checks.evaluate(request, list(policy.checks))
    states = check_states(results)
    status = Status(policy=policy, checks=results)
    reviews = list(request.reviews.all())
    status.approvals = [r for r in reviews if approval_counts(r, request, policy, states)]
    status.changes_requested = [
        r for r in reviews if r.is_active and r.decision == Decision.REQUEST_CHANGES
    ]
    approved_roles = {r.reviewer_role for r in status.approvals}
    status.missing_roles = [r for r in policy.required_roles if r not in approved_roles]
    status.approvals_short = max(policy.required_approvals - len(status.approvals), 0)
    missing = status.missing
    for role in status.missing_roles:
        missing.append(f"needs 1 {policies.role_label(role)} approval")
    extra = status.approvals_short - len(status.missing_roles)
    if extra > 0:
        more = " more" if status.missing_roles or status.approvals else ""
        missing.append(f"needs {extra}{more} approval" + ("" if extra == 1 else "s"))
    for review in status.changes_requested:
        who = review.reviewer.username if review.reviewer else "someone removed"
        missing.append(f"{who} requested changes")
    for result in results:
        if result.state != checks.PASS:
            verb = "failed" if result.state == checks.FAIL else "pending"
            missing.append(
                f"check {result.name} {verb}" + (f": {result.detail}" if result.detail else "")
            )
    return status


def whats_missing(request: PromotionRequest) -> list[str]:
    """What the request still needs before it can be merged, in plain sentences (none once it
    is merged, withdrawn or closed)."""
    if request.state != RequestState.OPEN:
        return []
    return status_of(request).missing


def _reviews_prefetch() -> Prefetch:
    return Prefetch("reviews", queryset=Review.objects.select_related("reviewer"))


def requests_visible_to(user) -> QuerySet[PromotionRequest]:
    return (
        PromotionRequest.objects.for_user(user)
        .select_related("model__team", "version", "author", "merged_by")
        .prefetch_related(_reviews_prefetch())
    )


def request_for(user, number: int) -> PromotionRequest:
    """Request `number` if the user may see it (404 otherwise, as for a model of another team)."""
    found = requests_visible_to(user).filter(number=number).first()
    if found is None:
        raise Http404(f"No promotion request #{number}.")
    return found


def attach_context(requests: list[PromotionRequest]) -> list[PromotionRequest]:
    """Give each request its policy, the production version checks compare with and what the
    open ones' checks read (checks.prepare): the same queries however long the list."""
    model_ids = {r.model_id for r in requests}
    team_ids = {r.model.team_id for r in requests}
    production = {
        v.model_id: v
        for v in ModelVersion.objects.filter(model_id__in=model_ids, stage=Stage.PRODUCTION).only(
            "id", "model_id", "number", "metrics"
        )
    }
    rows = list(Policy.objects.filter(team_id__in=team_ids))
    for request in requests:
        request._production = production.get(request.model_id)  # type: ignore[attr-defined]
        team_rows = [row for row in rows if row.team_id == request.model.team_id]
        request._policy = policies.choose(  # type: ignore[attr-defined]
            team_rows, model_id=request.model_id, to_stage=request.to_stage
        )
    checks.prepare([(r, list(policy_of(r).checks)) for r in requests if r.is_open])
    return requests


def role_in(user, team_id: int) -> str | None:
    membership = team_memberships(user).get(team_id)
    return membership.role if membership else None


def awaits(user, request: PromotionRequest, status: Status) -> bool:
    """The user's role can still move this open request forward with an approval."""
    role = role_in(user, request.model.team_id)
    if request.state != RequestState.OPEN or role is None or role == Role.VIEWER:
        return False
    if role not in status.policy.eligible_roles():
        return False
    if request.author_id == user.pk and not status.policy.author_may_approve:
        return False
    decided = any(
        r.reviewer_id == user.pk
        and r.is_active
        and r.decision != Decision.COMMENT
        and (r.decision != Decision.APPROVE or r in status.approvals)
        for r in request.reviews.all()
    )
    if decided:
        return False
    return role in status.missing_roles or status.approvals_short > len(status.missing_roles)


@dataclass
class Row:
    """A request in a list, with what it still needs."""

    request: PromotionRequest
    missing: list[str]
    status: Status | None


def request_query(
    user,
    *,
    state: str = RequestState.OPEN,
    awaiting: bool = False,
    mine: bool = False,
    model=None,
    version=None,
) -> QuerySet[PromotionRequest]:
    """Requests the user may see, newest first, filtered (those awaiting the user are among the
    open ones: `rows_of` keeps only them)."""
    requests = requests_visible_to(user)
    if state:
        requests = requests.filter(state=state)
    if mine:
        requests = requests.filter(author=user)
    if model is not None:
        requests = requests.filter(model=model)
    if version is not None:
        requests = requests.filter(version=version)
    if awaiting:
        requests = requests.filter(state=RequestState.OPEN)
    return requests


def rows_of(user, requests: list[PromotionRequest], *, awaiting: bool = False) -> list[Row]:
    """Each request with its status (for open ones); with `awaiting`, only those the user's
    role can still approve."""
    rows = []
    for request in attach_context(requests):
        status = status_of(request) if request.is_open else None
        if awaiting and not (status and awaits(user, request, status)):
            continue
        rows.append(Row(request, status.missing if status else [], status))
    return rows


def request_rows(
    user,
    *,
    state: str = RequestState.OPEN,
    awaiting: bool = False,
    mine: bool = False,
    model=None,
    version=None,
) -> list[Row]:
    """The newest 500 requests the user may see, each with its status (for open ones)."""
    requests = request_query(
        user, state=state, awaiting=awaiting, mine=mine, model=model, version=version
    )
    return rows_of(user, list(requests[:500]), awaiting=awaiting)


def conversation(request: PromotionRequest) -> list[Review]:
    """Every review message in time order, dismissed ones included (they stay in the record)."""
    return sorted(request.reviews.all(), key=lambda r: (r.created_at, r.id))


ANCHOR_KIND = "request"  # discussions' anchor of a request's threads; its id is the number
NUMBER = re.compile(r"[1-9][0-9]{0,8}")
END_VERBS = {
    "request.merged": RequestState.MERGED,
    "request.withdrawn": RequestState.WITHDRAWN,
    "request.closed": RequestState.CLOSED,
}


@dataclass(frozen=True)
class StateEvent:
    """The request leaving `open`, as the audit log recorded it: who, when, why."""

    state: str  # "merged", "withdrawn", "closed"
    actor: str
    at: datetime
    reason: str


def request_anchor(anchor_id: str) -> Anchor | None:
    """discussions' resolver of the "request" anchor: its id is the request's number."""
    if not NUMBER.fullmatch(anchor_id):
        return None
    request = (
        PromotionRequest.objects.select_related("model__team", "version")
        .filter(number=int(anchor_id))
        .first()
    )
    return None if request is None else anchor_of(request)


def anchor_of(request: PromotionRequest) -> Anchor:
    title = (
        f"Request #{request.number}: {request.model.name} v{request.version.number}"
        f" → {request.to_stage}"
    )
    return Anchor(request.model, reverse("reviews:request", args=[request.number]), title)


def state_events(user, request: PromotionRequest) -> list[StateEvent]:
    """How the request ended (one query; none while it is open)."""
    if request.is_open:
        return []
    events = audit_selectors.events_for(user).filter(
        object_type="request", object_id=str(request.number), verb__in=END_VERBS
    )
    return [
        StateEvent(END_VERBS[e.verb], e.actor_name or "someone removed", e.at, e.reason)
        for e in events.order_by("at", "id")
    ]


@dataclass(frozen=True)
class Entry:
    """One line of a request's conversation: "review", "thread" (placed at its first comment;
    its replies stay inside it, as on GitHub) or "event"."""

    kind: str
    at: datetime
    item: Review | Thread | StateEvent


def timeline(user, request: PromotionRequest) -> list[Entry]:
    """Reviews, the request's threads and how it ended, in time order: three queries however
    long the conversation grows (the reviews come prefetched with the request)."""
    entries = [Entry("review", r.created_at, r) for r in request.reviews.all()]
    entries += [
        Entry("thread", t.created_at, t)
        for t in discussion_selectors.threads_on(ANCHOR_KIND, str(request.number))
    ]
    entries += [Entry("event", e.at, e) for e in state_events(user, request)]
    return sorted(entries, key=lambda e: e.at)


@dataclass(frozen=True)
class Message:
    """A line of the conversation as the API gives it: every comment on its own."""

    kind: str  # "review", "comment", "event"
    author: str | None
    body: str
    at: datetime
    decision: str | None = None
    event: str | None = None
    dismissed: bool = False
    thread: int | None = None


def messages(user, request: PromotionRequest) -> list[Message]:
    """The conversation flat, in time order: reviews, every comment of the request's threads
    (a deleted one with no text), and the request's opening and end."""
    author = request.author.username if request.author else None
    found = [Message("event", author, request.message, request.created_at, event="opened")]
    found += [
        Message(
            "review",
            r.reviewer.username if r.reviewer else None,
            r.body,
            r.created_at,
            decision=r.decision,
            dismissed=not r.is_active,
        )
        for r in request.reviews.all()
    ]
    found += [
        Message(
            "comment",
            c.author.username if c.author else None,
            c.body,
            c.created_at,
            thread=c.thread_id,
        )
        for c in discussion_selectors.comments_on(ANCHOR_KIND, str(request.number))
    ]
    found += [
        Message("event", e.actor, e.reason, e.at, event=e.state)
        for e in state_events(user, request)
    ]
    return sorted(found, key=lambda m: m.at)


def policy_data(policy: policies.EffectivePolicy, model_name: str | None) -> dict:
    return {
        "to_stage": policy.to_stage,
        "model": model_name,
        "scope": policy.source,
        **policy.as_dict(),
    }


def team_policies(team) -> list[dict]:
    """The team's policy for each stage (its own or the default), then each model's own."""
    rows = list(Policy.objects.filter(team=team).select_related("model"))
    shown = [
        policy_data(
            policies.choose([r for r in rows if r.model_id is None], model_id=0, to_stage=stage),
            None,
        )
        for stage in TargetStage.values
    ]
    shown += [
        policy_data(policies.from_row(r, policies.SOURCE_MODEL), r.model.name)
        for r in rows
        if r.model is not None
    ]
    return shown


ACTIVITY_ROWS = 20
MENTION_ROWS = 20


@dataclass(frozen=True)
class Activity:
    """An audit event on a model the user watches, with where to look at it."""

    event: AuditEvent
    url: str


def watched_activity(user) -> list[Activity]:
    """The latest audit events on the models the user watches (and may read): one query."""
    watched = notification_selectors.watched_models(user).values("name")
    events = audit_selectors.events_for(user).filter(model_name__in=watched)[:ACTIVITY_ROWS]
    return [Activity(event, _place_of(event)) for event in events]


def _place_of(event: AuditEvent) -> str:
    if event.object_type == "request" and NUMBER.fullmatch(event.object_id):
        return reverse("reviews:request", args=[int(event.object_id)])
    return reverse("registry:model_history", args=[event.model_name])


def unread_mentions(user) -> list[Notification]:
    """The user's unread mentions, newest first: one query."""
    lines = notification_selectors.inbox(user, unread_only=True).filter(event=Event.MENTION)
    return list(lines[:MENTION_ROWS])

"""The review workflow of the demo `make run` shows, on top of registry/demo.py's models.

Everything goes through the services a person's clicks call (requests, reviews, merges,
policies, threads, watches), so the audit log and the notifications are real. Fraud's stage
history is made of merged promotion requests; then, once, the workflow in progress: a policy
for production (its @champion moves only to versions that went through it), an open request
for fraud-detector v4 waiting for bob, threads, carol watching.
"""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import transaction

from accounts.models import Role
from discussions import services as discussions
from notifications import services as notifications
from notifications.selectors import inbox
from registry import demo as registry_demo
from registry.models import ModelVersion, RegisteredModel, Stage

from . import policies, selectors, services
from .models import Decision, PromotionRequest

DEMO_MODEL = "fraud-detector"
OPEN_VERSION = 4

REQUEST_MESSAGE = """\
v4 has the best offline scores so far (deeper trees, faster learning rate). Asking to replace
v2 in production; v3 stays in staging as the fallback."""

QUESTION = """\
Checkout calls this model synchronously on every payment. Do v4's deeper trees still answer
within our **50 ms** budget?"""

ANSWER = """\
Not measured yet: offline it is the best version we have. @bob, could you run v4 through the
staging load test before you approve the production request?"""

MODEL_THREAD = """\
Rollback plan for fraud-detector: if chargebacks or false positives at checkout jump after a
promotion, I roll production back to the previous version directly and explain it here."""

MODEL_THREAD_REPLY = "Agreed. The previous version stays archived, so a rollback is one click."


def seed_demo(log: Callable[[str], None] = lambda line: None) -> None:
    """The whole demo, idempotent: the registry's part, then the review workflow's."""
    users = registry_demo.seed_demo(log=log, move_to_stage=move_by_request)
    seed_review_workflow(users=users, log=log)


def move_by_request(*, version: ModelVersion, stage: str, author: User, mover: User) -> None:
    """A demo version reaches its stage as in real use: its author asks, `mover` approves and
    merges. Where the policy does not let `mover` approve (Growth has no DevOps; its demo
    mover is the superuser), the move is made directly, as seeding."""
    team_id = version.model.team_id
    policy = policies.policy_for(team_id=team_id, model_id=version.model_id, to_stage=stage)
    if author == mover or selectors.role_in(mover, team_id) not in policy.eligible_roles():
        registry_demo.set_stage_directly(version=version, stage=stage, author=author, mover=mover)
        return
    summary = version.description.partition("\n")[0]
    request = services.open_request(
        actor=author,
        version=version,
        to_stage=stage,
        message=f"Version {version.number} to {stage}: {summary}",
    )
    services.give_review(
        actor=mover, request=request, decision=Decision.APPROVE, body="Checked; fine by me."
    )
    services.merge(actor=mover, request=request)
    # The history was read long ago: only the workflow in progress shows as unread.
    for person in User.objects.filter(memberships__team_id=team_id):
        done = inbox(person).filter(dedupe_key__startswith=f"request:{request.number}:")
        notifications.mark_read(user=person, ids=list(done.values_list("pk", flat=True)))


@transaction.atomic
def seed_review_workflow(*, users: dict[str, User], log: Callable[[str], None]) -> None:
    """Once: nothing is seeded when fraud-detector v4 has left `none` or has had a request."""
    model = RegisteredModel.objects.select_related("team").filter(name=DEMO_MODEL).first()
    version = model.versions.filter(number=OPEN_VERSION).first() if model else None
    if (
        model is None
        or version is None
        or version.stage != Stage.NONE
        or PromotionRequest.objects.filter(version=version).exists()
    ):
        log(f"{DEMO_MODEL}: review workflow up to date")
        return
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    services.set_policy(
        actor=alice,
        team=model.team,
        model=model,
        to_stage=Stage.PRODUCTION,
        required_approvals=1,
        required_roles=[Role.DEVOPS],
        checks=[{"kind": "metric_threshold", "metric": "accuracy", "op": ">=", "value": 0.9}],
        aliases=["champion"],
    )
    notifications.set_watching(actor=carol, model=model, watching=True)
    thread = discussions.start_thread(
        author=bob, kind="model", anchor_id=model.name, body=MODEL_THREAD
    )
    discussions.reply(author=alice, thread=thread, body=MODEL_THREAD_REPLY)
    request = services.open_request(
        actor=alice, version=version, to_stage=Stage.PRODUCTION, message=REQUEST_MESSAGE
    )
    thread = discussions.start_thread(
        author=carol, kind=selectors.ANCHOR_KIND, anchor_id=str(request.number), body=QUESTION
    )
    discussions.reply(author=alice, thread=thread, body=ANSWER)
    log(f"{DEMO_MODEL}: request #{request.number} (v{version.number} to production) waits for bob")

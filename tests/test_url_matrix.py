"""Every URL of the project, asked by every kind of person: who gets in, and whether writes land.

`test_every_url_pattern_is_in_the_matrix` walks the URL configuration and fails when a pattern
has no row here, so no page or endpoint ships without its denials tested. For a write, the
matrix also checks that an allowed request really changed what it claims, and that a refused
one changed nothing. (The Django admin has its own staff check and is left to Django.)
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken
from discussions import services as discussion_services
from discussions.models import Comment, Thread
from mlflow_api.models import ModelVersionTag, RegisteredModelTag
from monitoring import alerts
from monitoring import monitors as monitor_services
from monitoring import services as monitoring_services
from monitoring.datasets import store_dataset
from monitoring.models import (
    Alert,
    Dataset,
    DigestPreference,
    EvaluationRun,
    ModelMonitoringSettings,
    Monitor,
)
from notifications.models import Event, Notification, Preference, Watch
from notifications.services import notify
from registry import services
from registry.models import LoadCheck, ModelAlias, ModelVersion, RegisteredModel
from reviews import services as review_services
from reviews.models import Policy, PromotionRequest, Review
from tests.promotions import promote

from .conftest import a_model_file
from .page_factories import pushed_version, registered_model

ALLOWED, FORBIDDEN, HIDDEN, LOGIN = "allowed", "forbidden", "hidden", "login"
PEOPLE = ["alice", "bob", "carol", "victor", "mallory", "anonymous"]
NAME = "fraud-detector"
M = f"/api/v1/models/{NAME}"
P = f"/models/{NAME}"


def decisions(alice, bob, carol, victor, mallory, anonymous) -> dict[str, str]:
    return dict(zip(PEOPLE, [alice, bob, carol, victor, mallory, anonymous], strict=True))


A, F, H, L = ALLOWED, FORBIDDEN, HIDDEN, LOGIN
PUBLIC = decisions(A, A, A, A, A, A)
ANY_USER = decisions(A, A, A, A, A, L)
MEMBERS = decisions(A, A, A, A, H, L)
PUSHERS = decisions(A, A, F, F, H, L)  # data scientists and DevOps
EDITORS = decisions(A, F, F, F, H, L)  # data scientists (alice also owns the team)
STAGERS = decisions(A, A, F, F, H, L)  # DevOps and owners
TOKEN_OWNER = decisions(A, H, H, H, H, L)  # alice's own token
RECIPIENT = decisions(A, H, H, H, H, L)  # alice's own notification
COMMENTERS = decisions(A, A, A, F, H, L)  # every member but viewers
BOBS_OWN = decisions(F, A, F, F, H, L)  # bob's comment: only he edits it
BOB_OR_OWNER = decisions(A, A, F, F, H, L)  # bob's comment: he or the team's owner deletes it
OWNERS = decisions(A, F, F, F, H, L)  # alice owns the team
AUTHOR = decisions(A, F, F, F, H, L)  # alice opened request #2
# Approving and merging over the API need a token with the review scope, which api_as's lack.
NO_REVIEW_SCOPE = decisions(F, F, F, F, H, L)
NOBODY = decisions(H, H, H, H, H, H)  # no such page, for anyone


@dataclass
class Case:
    method: str
    path: str
    expect: dict[str, str]
    data: dict | Callable[[], dict] | None = None  # a callable makes files afresh: read once
    api: bool = False
    format: str = "json"
    effect: Callable[[], bool] | None = None  # True once the write has happened
    prepare: Callable[[dict], None] | None = None  # given the people, before the request


def model_description() -> str:
    return RegisteredModel.objects.get(name=NAME).description


def stage_of_v1() -> str:
    return ModelVersion.objects.get(number=1).stage


def alices_token_revoked() -> bool:
    return ApiToken.objects.get(name="alices").revoked_at is not None


def alices_notification_read() -> bool:
    return Notification.objects.get(dedupe_key="matrix").read_at is not None


def bobs_comment() -> Comment:
    return Comment.objects.get(body__startswith="bob's")


T = "/threads/{thread}"
TA = "/api/v1/threads/{thread}"
ON_MODEL = {"anchor": f"model:{NAME}", "body": "from the matrix"}


def request_two(people, approved=False) -> None:
    """Request #2: alice asks to move version 1 (in staging) to production; bob may approve."""
    version = ModelVersion.objects.select_related("model__team").get(number=1)
    request = review_services.open_request(
        actor=people["alice"], version=version, to_stage="production"
    )
    if approved:
        review_services.give_review(actor=people["bob"], request=request, decision="approve")


def approved_request_two(people) -> None:
    request_two(people, approved=True)


def state_of_two() -> str:
    return PromotionRequest.objects.get(number=2).state


def comments_on_two() -> bool:
    return Review.objects.filter(request__number=2, decision="comment").exists()


def production_request_open() -> bool:
    return PromotionRequest.objects.filter(to_stage="production", state="open").exists()


def production_policy_set() -> bool:
    return Policy.objects.filter(to_stage="production", required_approvals=2).exists()


def an_evaluation_run(version) -> EvaluationRun:
    """A finished drift run of `version`, for the pages that show runs."""
    data = Dataset.objects.create(
        model=version.model,
        kind="evaluation",
        name="holdout.csv",
        storage_name="x.parquet",
        size=1,
        sha256="0" * 64,
        row_count=1,
    )
    return EvaluationRun.objects.create(
        version=version, kind="drift", dataset=data, inputs_key="matrix", status="done"
    )


POLICY_FORM = {
    "prefix": "team-production",
    "to_stage": "production",
    "team-production-required_approvals": "2",
    "team-production-required_roles": ["devops"],
    "team-production-checks": "[]",
}
POLICY_JSON = {"to_stage": "production", "required_approvals": 2, "required_roles": ["devops"]}
R = "/api/v1/requests/2"
ML = "/mlflow/api/2.0/mlflow"
MA = "/mlflow/api/2.0/mlflow-artifacts/artifacts"

DATASET_CSV = b"x,label\n1.5,1\n2.5,0\n"


def a_dataset_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("batch.csv", DATASET_CSV)


def a_batch_uploaded() -> bool:
    return Dataset.objects.filter(name="batch.csv").exists()


def a_stored_dataset(model, actor) -> int:
    return store_dataset(
        actor=actor, model=model, file=a_dataset_file(), filename="seen.csv", kind="batch"
    ).pk


def evaluation_data(people) -> None:
    """A labelled evaluation dataset of the model (its version has no signature to match)."""
    store_dataset(
        actor=people["alice"],
        model=RegisteredModel.objects.get(name=NAME),
        file=io.BytesIO(b"x,y\n1.0,0\n2.0,1\n"),
        filename="evaluation.csv",
        kind="evaluation",
        label="y",
    )


def an_evaluation(people) -> None:
    """Evaluation run 1 of version 1, queued by alice."""
    evaluation_data(people)
    monitoring_services.request_evaluation(
        actor=people["alice"],
        version=ModelVersion.objects.get(number=1),
        kind="performance",
        dataset=Dataset.objects.get(),
    )


def a_monitor_of_the_model(people) -> None:
    """bob's monitor of the model (its id goes into the path as {monitor})."""
    model = RegisteredModel.objects.get(name=NAME)
    monitor_services.create_monitor(
        actor=people["bob"],
        model=model,
        name="matrix",
        kinds=["performance"],
        stages=["production"],
        rules=[{"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8}],
    )


def an_open_alert(people) -> None:
    """A run of bob's monitor broke its rule: one open alert (its id goes in as {alert})."""
    a_monitor_of_the_model(people)
    model = RegisteredModel.objects.get(name=NAME)
    data = store_dataset(
        actor=people["alice"],
        model=model,
        file=io.BytesIO(b"x,label\n1,0\n2,1\n"),
        filename="batch.csv",
        kind="batch",
        label="label",
        prediction="x",
    )
    run = EvaluationRun.objects.create(
        version=ModelVersion.objects.get(number=1),
        kind="performance",
        dataset=data,
        monitor=Monitor.objects.get(),
        inputs_key="matrix",
        status="done",
        metrics={"summary": {"roc_auc": 0.5}},
    )
    alerts.run_finished(run)


def the_alert() -> Alert:
    return Alert.objects.get()


def monitor_interval() -> str:
    return Monitor.objects.get().interval


def alpha_set() -> bool:
    return ModelMonitoringSettings.objects.filter(values={"alpha": 0.01}).exists()


MONITOR_FORM = {
    "name": "made in the matrix",
    "kinds": ["performance"],
    "stages": ["production"],
    "window_days": "7",
    "interval": "daily",
    "rules": "roc_auc >= 0.85 0.8",
    "enabled": "on",
}
MONITOR_JSON = {
    "name": "made in the matrix",
    "kinds": ["performance"],
    "stages": ["production"],
    "window_days": 7,
    "interval": "daily",
    "rules": [{"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8}],
}
MON = f"{P}/monitors/{{monitor}}"
MONA = f"{M}/monitors/{{monitor}}"


MATRIX: dict[str, list[Case]] = {
    "healthz": [Case("get", "/healthz", PUBLIC)],
    "readyz": [Case("get", "/readyz", PUBLIC)],
    # Open unless METRICS_TOKEN is set (tests/test_metrics_endpoint.py tries the token).
    "metrics": [Case("get", "/metrics", PUBLIC)],
    "monitoring:monitor_new": [
        Case("get", f"{P}/monitors/new/", STAGERS),
        Case(
            "post",
            f"{P}/monitors/new/",
            STAGERS,
            MONITOR_FORM,
            effect=lambda: Monitor.objects.filter(name="made in the matrix").exists(),
        ),
    ],
    "monitoring:monitor_edit": [
        Case("get", f"{MON}/edit/", STAGERS, prepare=a_monitor_of_the_model),
        Case(
            "post",
            f"{MON}/edit/",
            STAGERS,
            MONITOR_FORM | {"interval": "hourly"},
            effect=lambda: monitor_interval() == "hourly",
            prepare=a_monitor_of_the_model,
        ),
    ],
    "monitoring:monitor_run": [
        Case(
            "post",
            f"{MON}/run/",
            STAGERS,
            effect=lambda: Monitor.objects.get().last_run_at is not None,
            prepare=a_monitor_of_the_model,
        )
    ],
    "monitoring:monitor_delete": [
        Case(
            "post",
            f"{MON}/delete/",
            STAGERS,
            effect=lambda: not Monitor.objects.exists(),
            prepare=a_monitor_of_the_model,
        )
    ],
    "monitoring:model_settings": [
        Case("get", f"{P}/monitoring/settings/", MEMBERS),
        Case("post", f"{P}/monitoring/settings/", STAGERS, {"alpha": "0.01"}, effect=alpha_set),
    ],
    "monitoring:alerts": [Case("get", "/alerts/?state=", ANY_USER, prepare=an_open_alert)],
    "monitoring:alert_acknowledge": [
        Case(
            "post",
            "/alerts/{alert}/acknowledge/",
            STAGERS,
            effect=lambda: the_alert().acknowledged_at is not None,
            prepare=an_open_alert,
        )
    ],
    "monitoring:alert_mute": [
        Case(
            "post",
            "/alerts/{alert}/mute/",
            STAGERS,
            {"minutes": "60"},
            effect=lambda: the_alert().muted_until is not None,
            prepare=an_open_alert,
        )
    ],
    "monitoring:digest_settings": [
        Case("get", "/settings/monitoring/", ANY_USER),
        Case(
            "post",
            "/settings/monitoring/",
            ANY_USER,
            {"frequency": "daily"},
            effect=lambda: DigestPreference.objects.filter(frequency="daily").exists(),
        ),
    ],
    "monitoring-api:monitors": [
        Case("get", f"{M}/monitors/", MEMBERS, api=True),
        Case(
            "post",
            f"{M}/monitors/",
            STAGERS,
            MONITOR_JSON,
            api=True,
            effect=lambda: Monitor.objects.filter(name="made in the matrix").exists(),
        ),
    ],
    "monitoring-api:monitor": [
        Case("get", f"{MONA}/", MEMBERS, api=True, prepare=a_monitor_of_the_model),
        Case(
            "patch",
            f"{MONA}/",
            STAGERS,
            {"interval": "hourly"},
            api=True,
            effect=lambda: monitor_interval() == "hourly",
            prepare=a_monitor_of_the_model,
        ),
        Case(
            "delete",
            f"{MONA}/",
            STAGERS,
            api=True,
            effect=lambda: not Monitor.objects.exists(),
            prepare=a_monitor_of_the_model,
        ),
    ],
    "monitoring-api:monitor-run": [
        Case(
            "post",
            f"{MONA}/run/",
            STAGERS,
            api=True,
            effect=lambda: Monitor.objects.get().last_run_at is not None,
            prepare=a_monitor_of_the_model,
        )
    ],
    "monitoring-api:monitoring-settings": [
        Case("get", f"{M}/monitoring/settings/", MEMBERS, api=True),
        Case(
            "put",
            f"{M}/monitoring/settings/",
            STAGERS,
            {"values": {"alpha": 0.01}},
            api=True,
            effect=alpha_set,
        ),
    ],
    "monitoring-api:alerts": [
        Case("get", "/api/v1/alerts/?state=", ANY_USER, api=True, prepare=an_open_alert)
    ],
    "monitoring-api:alert-acknowledge": [
        Case(
            "post",
            "/api/v1/alerts/{alert}/acknowledge/",
            STAGERS,
            api=True,
            effect=lambda: the_alert().acknowledged_at is not None,
            prepare=an_open_alert,
        )
    ],
    "monitoring-api:alert-mute": [
        Case(
            "post",
            "/api/v1/alerts/{alert}/mute/",
            STAGERS,
            {"minutes": 60},
            api=True,
            effect=lambda: the_alert().muted_until is not None,
            prepare=an_open_alert,
        )
    ],
    "login": [Case("get", "/accounts/login/", PUBLIC)],
    # Logging out always ends on the login page.
    "logout": [Case("post", "/accounts/logout/", decisions(L, L, L, L, L, L))],
    "audit-api:events": [
        Case("get", "/api/v1/audit/", ANY_USER, api=True),
        Case("get", "/api/v1/audit/?format=csv", ANY_USER, api=True),
    ],
    "audit:events": [Case("get", "/audit/?model=fraud-detector", ANY_USER)],
    # The API's description is public, as for any API a CI job or another service reads.
    "api:schema": [Case("get", "/api/v1/schema/", PUBLIC, api=True)],
    "api:docs": [Case("get", "/api/v1/docs/", PUBLIC, api=True)],
    "accounts-api:teams": [Case("get", "/api/v1/teams/", ANY_USER, api=True)],
    "accounts-api:tokens": [
        Case("get", "/api/v1/tokens/", ANY_USER, api=True),
        Case(
            "post",
            "/api/v1/tokens/",
            ANY_USER,
            {"name": "matrix", "scopes": ["read"]},
            api=True,
            effect=lambda: ApiToken.objects.filter(name="matrix").exists(),
        ),
    ],
    "accounts-api:token": [
        Case(
            "delete", "/api/v1/tokens/{token}/", TOKEN_OWNER, api=True, effect=alices_token_revoked
        )
    ],
    "api:models": [
        Case("get", "/api/v1/models/", ANY_USER, api=True),
        Case(
            "post",
            "/api/v1/models/",
            PUSHERS,
            {"name": "made-in-matrix", "team": "fraud"},
            api=True,
            effect=lambda: RegisteredModel.objects.filter(name="made-in-matrix").exists(),
        ),
    ],
    "api:model": [
        Case("get", f"{M}/", MEMBERS, api=True),
        Case(
            "patch",
            f"{M}/",
            EDITORS,
            {"description": "edited in the matrix"},
            api=True,
            effect=lambda: model_description() == "edited in the matrix",
        ),
    ],
    "api:versions": [
        Case("get", f"{M}/versions/", MEMBERS, api=True),
        Case(
            "post",
            f"{M}/versions/",
            PUSHERS,
            lambda: {"description": "pushed in the matrix", "files": [a_model_file()]},
            api=True,
            format="multipart",
            effect=lambda: ModelVersion.objects.filter(number=2).exists(),
        ),
    ],
    "api:version": [Case("get", f"{M}/versions/1/", MEMBERS, api=True)],
    "api:version-stage": [
        Case(
            "post",
            f"{M}/versions/1/stage/",
            STAGERS,
            {"stage": "archived"},  # staging and production only through a request
            api=True,
            effect=lambda: stage_of_v1() == "archived",
        )
    ],
    "api:version-load-checks": [
        Case("get", f"{M}/versions/1/load-checks/", MEMBERS, api=True),
        Case(
            "post",
            f"{M}/versions/1/load-checks/",
            PUSHERS,
            api=True,
            effect=lambda: LoadCheck.objects.filter(attempt=2).exists(),
        ),
    ],
    "api:artifact": [Case("get", f"{M}/versions/1/artifacts/notes.txt", MEMBERS, api=True)],
    "api:stage": [Case("get", f"{M}/stages/staging", MEMBERS, api=True)],
    "api:alias": [
        Case("get", f"{M}/aliases/champion", MEMBERS, api=True),
        Case(
            "put",
            f"{M}/aliases/challenger",
            STAGERS,
            {"version": 1},
            api=True,
            effect=lambda: ModelAlias.objects.filter(name="challenger").exists(),
        ),
        Case(
            "delete",
            f"{M}/aliases/champion",
            STAGERS,
            api=True,
            effect=lambda: not ModelAlias.objects.filter(name="champion").exists(),
        ),
    ],
    "registry:model_list": [Case("get", "/", ANY_USER)],
    "registry:model_detail": [Case("get", f"{P}/", MEMBERS)],
    "registry:model_history": [Case("get", f"{P}/history/", MEMBERS)],
    "registry:model_edit": [  # the form is on the model's page; the URL only takes POST
        Case(
            "post",
            f"{P}/edit/",
            EDITORS,
            {"description": "edited in the matrix", "task_type": "other"},
            effect=lambda: model_description() == "edited in the matrix",
        ),
    ],
    "registry:compare": [Case("get", f"{P}/compare/?a=1&b=1", MEMBERS)],
    "registry:version_push": [
        Case("get", f"{P}/versions/new/", PUSHERS),
        Case(
            "post",
            f"{P}/versions/new/",
            PUSHERS,
            lambda: {"description": "pushed in the matrix", "files": [a_model_file()]},
            effect=lambda: ModelVersion.objects.filter(number=2).exists(),
        ),
    ],
    "registry:version_detail": [Case("get", f"{P}/versions/1/", MEMBERS)],
    "registry:version_load_check": [Case("get", f"{P}/versions/1/load-check/", MEMBERS)],
    "registry:version_load_check_retry": [
        Case(
            "post",
            f"{P}/versions/1/load-check/retry/",
            PUSHERS,
            effect=lambda: LoadCheck.objects.filter(attempt=2).exists(),
        )
    ],
    "registry:version_stage": [
        Case(
            "post",
            f"{P}/versions/1/stage/",
            STAGERS,
            {"stage": "archived"},  # staging and production only through a request
            effect=lambda: stage_of_v1() == "archived",
        )
    ],
    "registry:alias_set": [
        Case(
            "post",
            f"{P}/versions/1/aliases/",
            STAGERS,
            {"alias": "challenger"},
            effect=lambda: ModelAlias.objects.filter(name="challenger").exists(),
        )
    ],
    "registry:alias_delete": [
        Case(
            "post",
            f"{P}/aliases/champion/delete/",
            STAGERS,
            effect=lambda: not ModelAlias.objects.filter(name="champion").exists(),
        )
    ],
    "discussions:start": [
        Case(
            "post",
            "/threads/",
            COMMENTERS,
            ON_MODEL,
            effect=lambda: Comment.objects.filter(body="from the matrix").exists(),
        )
    ],
    "discussions:reply": [
        Case(
            "post",
            f"{T}/reply/",
            COMMENTERS,
            {"body": "from the matrix"},
            effect=lambda: Comment.objects.filter(body="from the matrix").exists(),
        )
    ],
    "discussions:resolve": [
        Case(
            "post",
            f"{T}/resolve/",
            COMMENTERS,
            effect=lambda: Thread.objects.get().resolved_at is not None,
        )
    ],
    "discussions:reopen": [Case("post", f"{T}/reopen/", COMMENTERS)],
    "discussions:edit": [
        Case(
            "post",
            f"{T}/comments/{{comment}}/edit/",
            BOBS_OWN,
            {"body": "bob's, edited"},
            effect=lambda: bobs_comment().body == "bob's, edited",
        )
    ],
    "discussions:delete": [
        Case(
            "post",
            f"{T}/comments/{{comment}}/delete/",
            BOB_OR_OWNER,
            effect=lambda: Comment.objects.get().deleted_at is not None,
        )
    ],
    "discussions:history": [Case("get", f"{T}/comments/{{comment}}/history/", MEMBERS)],
    "discussions-api:threads": [
        Case("get", f"/api/v1/threads/?anchor=model:{NAME}", MEMBERS, api=True),
        Case(
            "post",
            "/api/v1/threads/",
            COMMENTERS,
            ON_MODEL,
            api=True,
            effect=lambda: Comment.objects.filter(body="from the matrix").exists(),
        ),
    ],
    "discussions-api:mentionable": [
        Case("get", f"/api/v1/threads/mentionable/?anchor=model:{NAME}", MEMBERS, api=True)
    ],
    "discussions-api:thread": [Case("get", f"{TA}/", MEMBERS, api=True)],
    "discussions-api:comments": [
        Case(
            "post",
            f"{TA}/comments/",
            COMMENTERS,
            {"body": "from the matrix"},
            api=True,
            effect=lambda: Comment.objects.filter(body="from the matrix").exists(),
        )
    ],
    "discussions-api:comment": [
        Case(
            "patch",
            f"{TA}/comments/{{comment}}/",
            BOBS_OWN,
            {"body": "bob's, edited"},
            api=True,
            effect=lambda: bobs_comment().body == "bob's, edited",
        ),
        Case(
            "delete",
            f"{TA}/comments/{{comment}}/",
            BOB_OR_OWNER,
            api=True,
            effect=lambda: Comment.objects.get().deleted_at is not None,
        ),
    ],
    "discussions-api:revisions": [
        Case("get", f"{TA}/comments/{{comment}}/revisions/", MEMBERS, api=True)
    ],
    "discussions-api:resolve": [
        Case(
            "post",
            f"{TA}/resolve/",
            COMMENTERS,
            api=True,
            effect=lambda: Thread.objects.get().resolved_at is not None,
        )
    ],
    "discussions-api:reopen": [Case("post", f"{TA}/reopen/", COMMENTERS, api=True)],
    "accounts:tokens": [
        Case("get", "/settings/tokens/", ANY_USER),
        Case(
            "post",
            "/settings/tokens/",
            ANY_USER,
            {"name": "matrix", "scopes": ["read"]},
            effect=lambda: ApiToken.objects.filter(name="matrix").exists(),
        ),
    ],
    "accounts:token_revoke": [
        Case("post", "/settings/tokens/{token}/revoke/", TOKEN_OWNER, effect=alices_token_revoked)
    ],
    "notifications:inbox": [Case("get", "/notifications/", ANY_USER)],
    "notifications:read_all": [Case("post", "/notifications/read/", ANY_USER)],
    "notifications:read_one": [
        Case(
            "post",
            "/notifications/{notification}/read/",
            RECIPIENT,
            effect=alices_notification_read,
        )
    ],
    "notifications:preferences": [
        Case("get", "/settings/notifications/", ANY_USER),
        Case(
            "post",
            "/settings/notifications/",
            ANY_USER,
            {"mention__in_app": "on"},
            effect=lambda: Preference.objects.exists(),
        ),
    ],
    "notifications:watch": [
        Case(
            "post", f"{P}/watch/", MEMBERS, {"watch": "true"}, effect=lambda: Watch.objects.exists()
        )
    ],
    "notifications-api:notifications": [Case("get", "/api/v1/notifications/", ANY_USER, api=True)],
    "notifications-api:read": [
        Case(
            "post",
            "/api/v1/notifications/read/",
            RECIPIENT,
            lambda: {"ids": [Notification.objects.get(dedupe_key="matrix").pk]},
            api=True,
            effect=alices_notification_read,
        )
    ],
    "notifications-api:preferences": [
        Case("get", "/api/v1/notifications/preferences/", ANY_USER, api=True),
        Case(
            "put",
            "/api/v1/notifications/preferences/",
            ANY_USER,
            {"preferences": [{"event": "mention", "email": False}]},
            api=True,
            effect=lambda: Preference.objects.exists(),
        ),
    ],
    "notifications-api:watch": [
        Case("get", f"{M}/watch/", MEMBERS, api=True),
        Case("post", f"{M}/watch/", MEMBERS, api=True, effect=lambda: Watch.objects.exists()),
        Case("delete", f"{M}/watch/", MEMBERS, api=True),
    ],
    "reviews:home": [Case("get", "/home/", ANY_USER)],
    "reviews:requests": [Case("get", "/requests/?show=closed", ANY_USER)],
    "reviews:request": [Case("get", "/requests/1/", MEMBERS)],
    "reviews:request_review": [
        Case(
            "post",
            "/requests/2/reviews/",
            COMMENTERS,
            {"decision": "comment", "body": "looks fine"},
            effect=comments_on_two,
            prepare=request_two,
        )
    ],
    "reviews:request_merge": [
        Case(
            "post",
            "/requests/2/merge/",
            STAGERS,
            effect=lambda: state_of_two() == "merged",
            prepare=approved_request_two,
        )
    ],
    "reviews:request_withdraw": [
        Case(
            "post",
            "/requests/2/withdraw/",
            AUTHOR,
            effect=lambda: state_of_two() == "withdrawn",
            prepare=request_two,
        )
    ],
    "reviews:request_close": [
        Case(
            "post",
            "/requests/2/close/",
            STAGERS,
            {"reason": "superseded"},
            effect=lambda: state_of_two() == "closed",
            prepare=request_two,
        )
    ],
    "reviews:request_open": [
        Case(
            "post",
            f"{P}/versions/1/requests/",
            PUSHERS,
            {"to_stage": "production"},
            effect=production_request_open,
        )
    ],
    "reviews:policies": [
        Case("get", "/teams/fraud/policies/", MEMBERS),
        Case("post", "/teams/fraud/policies/", OWNERS, POLICY_FORM, effect=production_policy_set),
    ],
    "reviews-api:model-requests": [
        Case(
            "post",
            f"{M}/requests/",
            PUSHERS,
            {"version": 1, "to_stage": "production"},
            api=True,
            effect=production_request_open,
        )
    ],
    "reviews-api:requests": [Case("get", "/api/v1/requests/?awaiting=me", ANY_USER, api=True)],
    "reviews-api:request": [Case("get", "/api/v1/requests/1/", MEMBERS, api=True)],
    "reviews-api:request-reviews": [
        Case(
            "post",
            f"{R}/reviews/",
            COMMENTERS,
            {"decision": "comment", "body": "from the API"},
            api=True,
            effect=comments_on_two,
            prepare=request_two,
        )
    ],
    "reviews-api:request-merge": [
        Case(
            "post",
            f"{R}/merge/",
            NO_REVIEW_SCOPE,
            api=True,
            effect=lambda: state_of_two() == "merged",
            prepare=approved_request_two,
        )
    ],
    "reviews-api:request-withdraw": [
        Case(
            "post",
            f"{R}/withdraw/",
            AUTHOR,
            api=True,
            effect=lambda: state_of_two() == "withdrawn",
            prepare=request_two,
        )
    ],
    "reviews-api:request-close": [
        Case(
            "post",
            f"{R}/close/",
            STAGERS,
            {"reason": "superseded"},
            api=True,
            effect=lambda: state_of_two() == "closed",
            prepare=request_two,
        )
    ],
    "monitoring-api:model-evaluations": [
        Case("get", f"{M}/evaluations/", MEMBERS, api=True),
        Case(
            "post",
            f"{M}/evaluations/",
            PUSHERS,
            lambda: {"version": 1, "kind": "performance", "dataset": Dataset.objects.get().pk},
            api=True,
            effect=lambda: EvaluationRun.objects.exists(),
            prepare=evaluation_data,
        ),
    ],
    "monitoring-api:evaluation": [
        Case("get", "/api/v1/evaluations/{evaluation}/", MEMBERS, api=True, prepare=an_evaluation)
    ],
    "reviews-api:team-policies": [
        Case("get", "/api/v1/teams/fraud/policies/", MEMBERS, api=True),
        Case(
            "put",
            "/api/v1/teams/fraud/policies/",
            OWNERS,
            POLICY_JSON,
            api=True,
            effect=production_policy_set,
        ),
    ],
    "monitoring-api:datasets": [
        Case("get", f"{M}/datasets/", MEMBERS, api=True),
        Case(
            "post",
            f"{M}/datasets/",
            PUSHERS,
            lambda: {"file": a_dataset_file(), "kind": "batch"},
            api=True,
            format="multipart",
            effect=a_batch_uploaded,
        ),
    ],
    "monitoring-api:dataset": [Case("get", "/api/v1/datasets/{dataset}/", MEMBERS, api=True)],
    "monitoring:datasets": [
        Case("get", f"{P}/datasets/", MEMBERS),
        Case(
            "post",
            f"{P}/datasets/",
            PUSHERS,
            lambda: {"file": a_dataset_file(), "kind": "batch"},
            effect=a_batch_uploaded,
        ),
    ],
    "monitoring:model_monitoring": [Case("get", f"{P}/monitoring/", MEMBERS)],
    "monitoring:run": [Case("get", "/evaluations/{run}/", MEMBERS)],
    "monitoring:run_progress": [Case("get", "/evaluations/{run}/progress/", MEMBERS)],
    # MLflow's client: token only (anonymous is 401), its JSON errors carry the same statuses.
    "mlflow_api:dispatch": [
        Case("get", f"{ML}/registered-models/get?name={NAME}", MEMBERS, api=True),
        Case("get", f"{ML}/registered-models/search", ANY_USER, api=True),
        Case(
            "post",
            f"{ML}/registered-models/create",
            # anyone who may push in one team creates there: mallory in hers
            decisions(A, A, F, F, A, L),
            {"name": "from-mlflow"},
            api=True,
            effect=lambda: RegisteredModel.objects.filter(name="from-mlflow").exists(),
        ),
        Case(
            "patch",
            f"{ML}/registered-models/update",
            EDITORS,
            {"name": NAME, "description": "from MLflow"},
            api=True,
            effect=lambda: model_description() == "from MLflow",
        ),
        Case(
            "post",
            f"{ML}/registered-models/set-tag",
            PUSHERS,
            {"name": NAME, "key": "owner", "value": "risk"},
            api=True,
            effect=lambda: RegisteredModelTag.objects.filter(key="owner").exists(),
        ),
        Case("get", f"{ML}/model-versions/get?name={NAME}&version=1", MEMBERS, api=True),
        Case(
            "patch",
            f"{ML}/model-versions/update",
            EDITORS,
            {"name": NAME, "version": "1", "description": "from MLflow"},
            api=True,
            effect=lambda: ModelVersion.objects.get(number=1).description == "from MLflow",
        ),
        Case(
            "post",
            f"{ML}/model-versions/set-tag",
            PUSHERS,
            {"name": NAME, "version": "1", "key": "reviewed", "value": "yes"},
            api=True,
            effect=lambda: ModelVersionTag.objects.filter(key="reviewed").exists(),
        ),
        Case("get", f"{ML}/registered-models/alias?name={NAME}&alias=champion", MEMBERS, api=True),
        Case(
            "post",
            f"{ML}/registered-models/alias",
            STAGERS,
            {"name": NAME, "alias": "candidate", "version": "1"},
            api=True,
            effect=lambda: ModelAlias.objects.filter(name="candidate").exists(),
        ),
        Case("get", f"{MA}?path=registered/{NAME}/1", MEMBERS, api=True),
        Case("get", f"{MA}/registered/{NAME}/1/notes.txt", MEMBERS, api=True),
    ],
    # A page for a browser following the MLflow client's links to its UI; JSON for anything else.
    "mlflow_api:home": [Case("get", "/mlflow/", PUBLIC)],
    "mlflow_api:not_found": [
        Case("get", "/mlflow/ajax-api/2.0/mlflow/registered-models/get", NOBODY, api=True)
    ],
}


def url_names(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            if inner != "admin":
                yield from url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_pattern_is_in_the_matrix():
    names = set(url_names(get_resolver().url_patterns))
    missing = sorted(names - set(MATRIX))
    assert not missing, f"Add these URLs to tests/test_url_matrix.py's MATRIX: {missing}"
    assert not set(MATRIX) - names, "The matrix names URLs that no longer exist"


def decision_of(response, api: bool) -> str:
    code = response.status_code
    if api:
        return {401: LOGIN, 403: FORBIDDEN, 404: HIDDEN}.get(
            code, ALLOWED if 200 <= code < 300 else f"answered {code}"
        )
    if code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL)):
        return LOGIN
    # 286: htmx's "done, stop polling", sent by the load check block once the check finished.
    return {200: ALLOWED, 286: ALLOWED, 302: ALLOWED, 403: FORBIDDEN, 404: HIDDEN}.get(
        code, f"answered {code}"
    )


CASES = [
    pytest.param(name, index, who, id=f"{name}-{case.method}-{who}")
    for name, cases in MATRIX.items()
    for index, case in enumerate(cases)
    for who in PEOPLE
]


@pytest.mark.parametrize(("name", "index", "who"), CASES)
def test_the_matrix(name, index, who, client, people, teams, api_as):
    case = MATRIX[name][index]
    alice = people["alice"]
    model = registered_model(alice, teams["fraud"], NAME)
    version = pushed_version(alice, model, files=[("notes.txt", b"no MLmodel here")])
    promote(version, "staging", author=alice, approver=people["bob"])
    services.set_alias(actor=alice, version=version, alias="champion")
    token, _ = account_services.create_token(user=alice, name="alices", scopes=["read"])
    notify(
        event=Event.MENTION,
        recipients=[alice],
        actor=people["bob"],
        model=model,
        title="matrix",
        body="",
        url=f"{P}/",
        dedupe_key="matrix",
    )
    notification = Notification.objects.get(dedupe_key="matrix").pk
    thread = discussion_services.start_thread(
        author=people["bob"], kind="model", anchor_id=NAME, body="bob's"
    )
    comment = thread.comments.get()
    dataset = a_stored_dataset(model, alice) if "{dataset}" in case.path else None
    if case.prepare is not None:
        case.prepare(people)
    evaluation = EvaluationRun.objects.values_list("pk", flat=True).first()
    path = case.path.format(
        token=token.pk,
        notification=notification,
        thread=thread.pk,
        comment=comment.pk,
        dataset=dataset,
        run=an_evaluation_run(version).pk if "{run}" in case.path else None,
        evaluation=evaluation,
        monitor=Monitor.objects.values_list("pk", flat=True).first(),
        alert=Alert.objects.values_list("pk", flat=True).first(),
    )
    data = case.data() if callable(case.data) else case.data

    if case.api:
        caller = APIClient() if who == "anonymous" else api_as(people[who])
        kwargs = {"format": case.format} if case.data is not None else {}
        response = getattr(caller, case.method)(path, data, **kwargs)
    else:
        if who != "anonymous":
            client.force_login(people[who])
        response = getattr(client, case.method)(path, data or {})

    expected = case.expect[who]
    assert decision_of(response, case.api) == expected, response.content[:300]
    if case.effect is not None:
        assert case.effect() is (expected == ALLOWED), "the write did not do what was decided"

"""Management commands: `create_token` for CI secrets, `seed_demo` for `make run`."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, Membership, Team
from audit.models import AuditEvent
from discussions.models import Comment, Thread
from notifications.models import Notification, OutboxEmail, Watch
from registry import demo as registry_demo
from registry.models import Artifact, ModelAlias, ModelVersion, RegisteredModel, Stage, StageChange
from reviews.models import Policy, PromotionRequest, RequestState, Review


def create_token(*args) -> str:
    out = io.StringIO()
    call_command("create_token", *args, stdout=out)
    return out.getvalue()


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_it_prints_a_token_that_works_against_the_api(alice):
    printed = create_token("alice", "--scopes", "read,write")

    token = printed.strip()
    assert printed == token + "\n"  # the token alone, ready for $(…)
    assert token.startswith("vt_")
    client = bearer(token)
    assert client.get("/api/v1/tokens/").status_code == 200
    created = client.post(
        "/api/v1/models/", {"name": "chargeback-model", "team": "fraud"}, format="json"
    )
    assert created.status_code == 201, created.content


def test_it_makes_read_only_tokens_unless_asked(alice):
    token = create_token("alice").strip()

    client = bearer(token)
    assert client.get("/api/v1/models/").status_code == 200
    refused = client.post("/api/v1/models/", {"name": "x", "team": "fraud"}, format="json")
    assert refused.status_code == 403


def test_it_names_the_token_and_sets_its_expiry(alice):
    create_token("alice", "--scopes", "read", "--name", "github-actions", "--expires-in-days", "30")

    token = ApiToken.objects.get(user=alice)
    assert token.name == "github-actions"
    assert token.scopes == ["read"]
    expected = timezone.now() + timedelta(days=30)
    assert abs(token.expires_at - expected) < timedelta(minutes=1)


def test_it_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        create_token("nobody", "--scopes", "read")


@pytest.mark.parametrize("scopes", ["admin", "read,delete", ","])
def test_it_refuses_unknown_scopes(alice, scopes):
    with pytest.raises(CommandError, match="Scopes must be some of: read, write"):
        create_token("alice", "--scopes", scopes)
    assert not ApiToken.objects.exists()


def test_it_refuses_an_expiry_out_of_range(alice):
    with pytest.raises(CommandError, match="1 to 3650 days"):
        create_token("alice", "--expires-in-days", "0")


def demo_counts() -> dict[str, int]:
    return {
        table.__name__: table.objects.count()
        for table in (
            Team,
            User,
            Membership,
            RegisteredModel,
            ModelVersion,
            Artifact,
            ModelAlias,
            StageChange,
            PromotionRequest,
            Review,
            Policy,
            Thread,
            Comment,
            Watch,
            Notification,
            OutboxEmail,
            AuditEvent,
        )
    }


def test_seed_demo_builds_the_demo_once_and_keeps_it(db):
    # Reruns add nothing: no request, comment, notification or audit event either.
    # One test for the whole demo: seeding trains ten models, too slow to repeat per assertion.
    call_command("seed_demo", stdout=io.StringIO())
    first = demo_counts()
    call_command("seed_demo", stdout=io.StringIO())

    assert demo_counts() == first
    assert set(Team.objects.values_list("slug", flat=True)) == {"fraud", "growth"}
    assert set(RegisteredModel.objects.values_list("name", flat=True)) == {
        "fraud-detector",
        "churn-predictor",
        "house-price",
    }
    for model in RegisteredModel.objects.all():
        versions = list(model.versions.all())
        assert 3 <= len(versions) <= 4
        assert model.latest_version_number == len(versions)
        stages = [v.stage for v in versions]
        assert stages.count(Stage.PRODUCTION) == 1
        assert stages.count(Stage.STAGING) == 1
        assert model.aliases.get(name="champion")
        params = [v.params for v in versions]
        assert all(params.count(p) == 1 for p in params), "each version tries other settings"
        for version in versions:
            assert version.signature["inputs"]
            assert version.flavors.get("sklearn")
            assert len(version.git_commit) == 40
            assert version.training_data_uri.startswith("s3://acme-data/")
            assert len(version.training_data_sha256) == 64
            assert version.artifacts.filter(path="MLmodel").exists()
    fraud = ModelVersion.objects.filter(model__name="fraud-detector")
    assert set(fraud.first().metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    house = ModelVersion.objects.filter(model__name="house-price")
    assert set(house.first().metrics) == {"rmse", "mae", "r2"}

    client = APIClient()
    assert client.login(username="carol", password="vetted-demo")
    production = client.get("/api/v1/models/fraud-detector/stages/production")
    assert production.status_code == 200
    assert production.json()["version"] == 2
    assert client.get("/api/v1/models/fraud-detector/aliases/champion").json()["version"] == 2
    assert client.login(username="mallory", password="vetted-demo")
    assert client.get("/api/v1/models/fraud-detector/").status_code == 404
    assert User.objects.get(username="admin").is_superuser
    assert_the_review_workflow_is_shown()


def assert_the_review_workflow_is_shown():
    # Fraud's stages were reached by merged requests: v1 then v2 to production, v3 to staging.
    merged = PromotionRequest.objects.filter(state=RequestState.MERGED).order_by("number")
    assert [(r.version.number, r.to_stage) for r in merged] == [
        (1, Stage.PRODUCTION),
        (2, Stage.PRODUCTION),
        (3, Stage.STAGING),
    ]
    assert all(r.merged_by.username == "bob" for r in merged)
    waiting = PromotionRequest.objects.get(state=RequestState.OPEN)
    assert (waiting.model.name, waiting.version.number) == ("fraud-detector", 4)
    assert (waiting.author.username, waiting.to_stage) == ("alice", Stage.PRODUCTION)
    link = f'href="/requests/{waiting.number}/"'

    client = APIClient()
    assert client.login(username="bob", password="vetted-demo")
    home = client.get("/home/").content.decode()
    assert link in home
    assert "Nothing waits for your review." not in home
    # The production policy's @champion follows the review: not onto v4 while its request waits.
    assert Policy.objects.get(model=waiting.model, to_stage=Stage.PRODUCTION).aliases == [
        "champion"
    ]
    champion = client.put(
        "/api/v1/models/fraud-detector/aliases/champion", {"version": 4}, format="json"
    )
    assert champion.status_code == 403
    assert f"/requests/{waiting.number}/" in champion.json()["error"]["message"]
    assert link in client.get("/requests/").content.decode()
    page = client.get(f"/requests/{waiting.number}/").content.decode()
    assert "v2 in production" in page  # the request's message
    assert "accuracy ≥ 0.9" in page  # the policy's check
    assert "50 ms" in page and "@bob" in page  # carol's question, alice's answer, in its thread
    model_page = client.get("/models/fraud-detector/").content.decode()
    assert "Rollback plan" in model_page
    unread = client.get("/api/v1/notifications/?unread=true").json()
    events = {line["event"] for line in unread.get("results", unread)}
    assert {"mention", "review_requested"} <= events
    assert not any("(#1)" in line["title"] for line in unread.get("results", unread))
    history = Notification.objects.filter(dedupe_key__startswith="request:3:")
    assert history.exists() and not history.filter(read_at=None).exists()

    assert client.login(username="carol", password="vetted-demo")
    assert client.get("/api/v1/models/fraud-detector/watch/").json()["watching"] is True
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"request.opened", "review.given", "request.merged", "policy.changed"} <= verbs
    assert {"thread.started", "comment.posted", "preferences.changed"} <= verbs


def test_seed_demo_adds_the_review_workflow_to_a_demo_seeded_before_it(db):
    # A var/ database from before reviews: stages set directly, no request, no thread.
    registry_demo.seed_demo()
    assert not PromotionRequest.objects.exists()

    out = io.StringIO()
    call_command("seed_demo", stdout=out)

    assert "request #1 (v4 to production) waits for bob" in out.getvalue()
    assert PromotionRequest.objects.get().version.number == 4
    assert Thread.objects.count() == 2

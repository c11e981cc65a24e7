"""Aliases a policy names for a stage (`@champion` for production) move only to versions that
went through that stage's review; refusals name the page where the move is asked for."""

import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from registry.models import ModelAlias, ModelVersion
from reviews import services
from reviews.models import Decision, Policy, PromotionRequest

from .page_factories import pushed_version, registered_model
from .promotions import promote

SITE = "https://vetted.example.com"
M = "/api/v1/models/iris"
POLICIES = "/api/v1/teams/fraud/policies/"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE + "/"


@pytest.fixture
def iris(alice, teams):
    """iris with v1 and v2, neither in a stage yet."""
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model)
    pushed_version(alice, model)
    return model


@pytest.fixture
def champion_is_production(api_as, alice, iris):
    """The Fraud team's production policy says @champion stands for production."""
    answer = api_as(alice).put(
        POLICIES,
        {"to_stage": "production", "required_approvals": 1, "aliases": ["champion"]},
        format="json",
    )
    assert answer.status_code == 200, answer.content


def point(client, alias, version):
    return client.put(f"{M}/aliases/{alias}", {"version": version}, format="json")


def error(response) -> str:
    return response.json()["error"]["message"]


def pointed_at(alias: str) -> int | None:
    return (
        ModelAlias.objects.filter(model__name="iris", name=alias)
        .values_list("version__number", flat=True)
        .first()
    )


def test_a_gated_alias_is_refused_for_a_version_without_review_naming_its_page(
    api_as, bob, champion_is_production
):
    refused = point(api_as(bob), "champion", 2)

    assert refused.status_code == 403
    message = error(refused)
    assert "@champion stands for production" in message
    assert f"open a promotion request for version 2 at {SITE}/models/iris/versions/2/" in message
    assert "vetted request iris 2 --to production" in message
    assert pointed_at("champion") is None
    assert not AuditEvent.objects.filter(verb="alias.set").exists()


def test_with_an_open_request_the_refusal_names_the_request_page(
    api_as, alice, bob, champion_is_production
):
    version = ModelVersion.objects.get(model__name="iris", number=2)
    request = services.open_request(actor=alice, version=version, to_stage="production")

    refused = point(api_as(bob), "champion", 2)

    assert refused.status_code == 403
    assert f"request #{request.number} for version 2 is open at {SITE}/requests/1/" in error(
        refused
    )


def test_after_the_merge_the_alias_moves_and_other_aliases_never_waited(
    api_as, alice, bob, champion_is_production
):
    devops = api_as(bob)
    assert point(devops, "canary", 1).status_code == 200
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)

    moved = point(devops, "champion", 2)

    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert (pointed_at("champion"), pointed_at("canary")) == (2, 1)


def test_names_differing_in_case_are_gated_alike(api_as, bob, champion_is_production):
    assert point(api_as(bob), "Champion", 2).status_code == 403
    assert pointed_at("Champion") is None


def test_an_archived_version_that_was_merged_into_production_may_get_it_back(
    api_as, alice, bob, iris, champion_is_production
):
    devops = api_as(bob)
    promote(ModelVersion.objects.get(number=1), "production", author=alice, approver=bob)
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)
    assert ModelVersion.objects.get(number=1).stage == "archived"

    assert point(devops, "champion", 1).status_code == 200  # a rollback of the alias
    assert pointed_at("champion") == 1


def test_removing_a_gated_alias_is_allowed(api_as, alice, bob, champion_is_production):
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)
    devops = api_as(bob)
    assert point(devops, "champion", 2).status_code == 200

    assert devops.delete(f"{M}/aliases/champion").status_code == 204
    assert pointed_at("champion") is None


def test_a_models_own_policy_overrides_the_teams_aliases(api_as, alice, bob, iris):
    owner = api_as(alice)
    team = {"to_stage": "production", "required_approvals": 1, "aliases": ["champion"]}
    assert owner.put(POLICIES, team, format="json").status_code == 200
    own = {"to_stage": "production", "model": "iris", "required_approvals": 1, "aliases": ["gold"]}
    assert owner.put(POLICIES, own, format="json").status_code == 200

    devops = api_as(bob)
    assert point(devops, "champion", 2).status_code == 200
    refused = point(devops, "gold", 2)
    assert refused.status_code == 403 and "@gold stands for production" in error(refused)


def test_a_staging_alias_needs_staging(api_as, alice, bob, iris):
    policy = {"to_stage": "staging", "required_approvals": 1, "aliases": ["candidate"]}
    assert api_as(alice).put(POLICIES, policy, format="json").status_code == 200
    devops = api_as(bob)
    assert point(devops, "candidate", 2).status_code == 403

    promote(ModelVersion.objects.get(number=2), "staging", author=alice, approver=bob)

    assert point(devops, "candidate", 2).status_code == 200


def mlflow_post(token: str, path: str, **fields):
    """What MLflow's client sends: JSON with a bearer token, to MLFLOW_TRACKING_URI=…/mlflow."""
    return Client().post(
        f"/mlflow/api/2.0/mlflow/{path}",
        json.dumps(fields),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_an_mlflow_client_gets_permission_denied_naming_where_to_ask(
    token_for, alice, bob, champion_is_production
):
    token = token_for(bob)
    alias = {"name": "iris", "alias": "champion", "version": "2"}

    refused = mlflow_post(token, "registered-models/alias", **alias)
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"
    assert f"{SITE}/models/iris/versions/2/" in refused.json()["message"]
    staged = mlflow_post(
        token, "model-versions/transition-stage", name="iris", version="2", stage="Production"
    )
    assert staged.status_code == 403
    assert f"{SITE}/models/iris/versions/2/" in staged.json()["message"]

    version = ModelVersion.objects.get(number=2)
    request = services.open_request(actor=alice, version=version, to_stage="production")
    refused = mlflow_post(token, "registered-models/alias", **alias)
    assert f"{SITE}/requests/1/" in refused.json()["message"]

    services.give_review(actor=bob, request=request, decision=Decision.APPROVE)
    services.merge(actor=bob, request=request)
    moved = mlflow_post(token, "registered-models/alias", **alias)
    assert (moved.status_code, moved.json()) == (200, {})
    assert pointed_at("champion") == 2


def test_the_version_page_refuses_a_gated_alias_with_the_request_page(
    client, alice, bob, champion_is_production
):
    client.force_login(bob)
    refused = client.post("/models/iris/versions/2/aliases/", {"alias": "champion"})

    assert refused.status_code == 403
    assert f"{SITE}/models/iris/versions/2/" in refused.content.decode()
    assert pointed_at("champion") is None

    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)
    moved = client.post("/models/iris/versions/2/aliases/", {"alias": "champion"})
    assert moved.status_code == 302 and pointed_at("champion") == 2


def test_a_direct_stage_move_names_the_version_page_or_its_open_request(api_as, alice, bob, iris):
    devops = api_as(bob)
    refused = devops.post(f"{M}/versions/2/stage/", {"stage": "production"}, format="json")
    assert refused.status_code == 403
    assert f"open a promotion request for version 2 at {SITE}/models/iris/versions/2/" in error(
        refused
    )

    version = ModelVersion.objects.get(number=2)
    services.open_request(actor=alice, version=version, to_stage="production")
    refused = devops.post(f"{M}/versions/2/stage/", {"stage": "production"}, format="json")
    assert f"request #1 for version 2 is open at {SITE}/requests/1/" in error(refused)


def test_policy_aliases_round_trip_through_the_api(api_as, alice, bob, iris):
    saved = api_as(alice).put(
        POLICIES,
        {"to_stage": "production", "required_approvals": 1, "aliases": ["champion", "Champion"]},
        format="json",
    )

    assert saved.status_code == 200 and saved.json()["aliases"] == ["champion"]
    shown = {p["to_stage"]: p for p in api_as(bob).get(POLICIES).json()}
    assert shown["production"]["aliases"] == ["champion"]
    assert shown["staging"]["aliases"] == []
    event = AuditEvent.objects.get(verb="policy.changed")
    assert event.after["aliases"] == ["champion"]


@pytest.mark.parametrize(
    "aliases, words",
    [
        ("champion", "list"),
        (["production"], "a stage's name"),
        (["1st"], "not an alias name"),
        (["has space"], "not an alias name"),
        ([f"a{n}" for n in range(21)], "20"),
        ([7], "aliases"),
    ],
)
def test_bad_policy_aliases_are_refused(api_as, alice, iris, aliases, words):
    answer = api_as(alice).put(
        POLICIES,
        {"to_stage": "production", "required_approvals": 1, "aliases": aliases},
        format="json",
    )

    assert answer.status_code == 400 and words in str(answer.json()), answer.content
    assert not Policy.objects.exists()


def test_changing_only_aliases_keeps_approvals_on_open_requests(api_as, alice, bob, iris):
    version = ModelVersion.objects.get(number=2)
    request = services.open_request(actor=alice, version=version, to_stage="production")
    services.give_review(actor=bob, request=request, decision=Decision.APPROVE)

    policy = {"to_stage": "production", "required_approvals": 1, "required_roles": ["devops"]}
    assert api_as(alice).put(POLICIES, policy, format="json").status_code == 200
    assert (
        api_as(alice).put(POLICIES, {**policy, "aliases": ["champion"]}, format="json").status_code
        == 200
    )

    review = PromotionRequest.objects.get().reviews.get()
    assert review.dismissed_at is None


def test_the_policies_page_shows_and_edits_aliases(client, alice, iris):
    client.force_login(alice)
    saved = client.post(
        "/teams/fraud/policies/",
        {
            "prefix": "team-production",
            "to_stage": "production",
            "team-production-required_approvals": "1",
            "team-production-required_roles": ["devops"],
            "team-production-checks": "[]",
            "team-production-aliases": "champion, blue  green",
        },
    )
    assert saved.status_code == 302, saved.content.decode()

    page = client.get("/teams/fraud/policies/").content.decode()
    assert "<code>@champion</code>, <code>@blue</code>, <code>@green</code>" in page
    assert 'value="champion, blue, green"' in page

    refused = client.post(
        "/teams/fraud/policies/",
        {
            "prefix": "team-production",
            "to_stage": "production",
            "team-production-required_approvals": "1",
            "team-production-checks": "[]",
            "team-production-aliases": "staging",
        },
    )
    assert refused.status_code == 400 and "a stage&#x27;s name" in refused.content.decode()

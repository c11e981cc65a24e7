"""Tokens limited to one team reach its models only; unlimited ones keep reaching all teams."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken, Membership, Role
from tests.page_factories import pushed_version, registered_model


@pytest.fixture
def two_teams_of_models(alice, teams, people):
    """alice is in fraud and growth; each team has one model with a version."""
    Membership.objects.create(user=alice, team=teams["growth"], role=Role.DATA_SCIENTIST)
    pushed_version(alice, registered_model(alice, teams["fraud"], "fraud-detector"))
    pushed_version(alice, registered_model(alice, teams["growth"], "churn-predictor"))


def client_with(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


def test_a_token_limited_to_a_team_sees_and_acts_on_that_team_only(
    alice, teams, two_teams_of_models
):
    _, plain = account_services.create_token(
        user=alice, name="fraud-ci", scopes=["read", "write"], team=teams["fraud"]
    )
    limited = client_with(plain)
    names = [m["name"] for m in limited.get("/api/v1/models/").json()["results"]]
    assert names == ["fraud-detector"]
    assert [t["slug"] for t in limited.get("/api/v1/teams/").json()] == ["fraud"]
    assert limited.get("/api/v1/models/churn-predictor/").status_code == 404
    assert limited.get("/api/v1/models/churn-predictor/versions/1/").status_code == 404
    edit = limited.patch("/api/v1/models/churn-predictor/", {"description": "x"}, format="json")
    assert edit.status_code == 404
    created = limited.post("/api/v1/models/", {"name": "new", "team": "growth"}, format="json")
    assert created.status_code == 404
    assert (
        limited.patch(
            "/api/v1/models/fraud-detector/", {"description": "ok"}, format="json"
        ).status_code
        == 200
    )
    events = limited.get("/api/v1/audit/").json()["results"]
    assert events and {e["team"] for e in events} == {"fraud"}


def test_a_token_without_a_team_keeps_reaching_all_the_users_teams(alice, two_teams_of_models):
    _, plain = account_services.create_token(user=alice, name="all", scopes=["read"])
    names = {m["name"] for m in client_with(plain).get("/api/v1/models/").json()["results"]}
    assert names == {"fraud-detector", "churn-predictor"}


def test_even_a_superuser_token_limited_to_a_team_stays_in_it(
    teams, two_teams_of_models, django_user_model
):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    _, plain = account_services.create_token(
        user=root, name="ops", scopes=["read"], team=teams["growth"]
    )
    names = [m["name"] for m in client_with(plain).get("/api/v1/models/").json()["results"]]
    assert names == ["churn-predictor"]
    assert client_with(plain).get("/api/v1/models/fraud-detector/").status_code == 404


def test_create_token_takes_a_team(alice, teams, people):
    out = StringIO()
    call_command("create_token", "alice", "--team", "fraud", stdout=out)
    token = ApiToken.objects.get(user=alice)
    assert token.team == teams["fraud"] and out.getvalue().startswith("vt_")
    with pytest.raises(CommandError, match="No team with the slug 'nope'"):
        call_command("create_token", "alice", "--team", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="not in team Growth"):
        call_command("create_token", "alice", "--team", "growth", stdout=StringIO())


def test_the_tokens_page_and_api_create_team_tokens(client, api_as, alice, teams):
    client.force_login(alice)
    page = client.post(
        "/settings/tokens/", {"name": "fraud-only", "scopes": ["read"], "team": teams["fraud"].pk}
    )
    assert page.status_code == 200 and "Fraud" in page.content.decode()
    assert ApiToken.objects.get(name="fraud-only").team == teams["fraud"]
    refused = client.post(
        "/settings/tokens/", {"name": "x", "scopes": ["read"], "team": teams["growth"].pk}
    )
    assert refused.status_code == 400 and not ApiToken.objects.filter(name="x").exists()

    api = api_as(alice)
    made = api.post(
        "/api/v1/tokens/", {"name": "api-fraud", "scopes": ["read"], "team": "fraud"}, format="json"
    )
    assert made.status_code == 201 and made.json()["team"] == "fraud"
    other = api.post(
        "/api/v1/tokens/", {"name": "nope", "scopes": ["read"], "team": "growth"}, format="json"
    )
    assert other.status_code == 404

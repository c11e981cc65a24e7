"""Who reads which events: every role of a team reads all of its team's events and never another
team's, on the pages, in the API and in the CSV export alike (AuditEventQuerySet.for_user)."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Membership, Role
from registry import services

from .audit_events import logged
from .page_factories import pushed_version, registered_model

FRAUD = {"fraud-detector", "fraud-detector v1"}
GROWTH = {"churn", "churn v1"}
SURFACES = ["page", "history", "api", "csv"]
HISTORY = {"fraud": "/models/fraud-detector/history/", "growth": "/models/churn/history/"}


@pytest.fixture
def both_teams(people, teams, registry_alone):
    alice, bob, mallory = people["alice"], people["bob"], people["mallory"]
    fraud = registered_model(alice, teams["fraud"], "fraud-detector")
    services.set_stage(actor=bob, version=pushed_version(alice, fraud), stage="staging")
    growth = registered_model(mallory, teams["growth"], "churn")
    pushed_version(mallory, growth)


def objects_seen(surface, who, client, api_client, team) -> set[str]:
    """The names of the objects `who` reads through `surface` (a history: of `team`'s model)."""
    names = FRAUD | GROWTH
    if surface in ("page", "history"):
        client.force_login(who)
        url = "/audit/" if surface == "page" else HISTORY[team]
        response = client.get(url)
        if response.status_code == 404:
            return set()
        return {name for name in names if f">{name}</a>" in response.content.decode()}
    if surface == "api":
        events = api_client.get("/api/v1/audit/").json()["results"]
        return {e["object"]["name"] for e in events} & names
    response = api_client.get("/api/v1/audit/?format=csv")
    text = b"".join(response.streaming_content).decode()
    return {line["object"] for line in csv.DictReader(io.StringIO(text))} & names


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("name", ["alice", "bob", "carol", "victor", "mallory"])
def test_every_role_reads_its_teams_events_and_never_another_teams(
    name, surface, people, both_teams, client, api_as
):
    who = people[name]
    team, other, own = (
        ("growth", "fraud", GROWTH) if name == "mallory" else ("fraud", "growth", FRAUD)
    )
    assert objects_seen(surface, who, client, api_as(who, "read"), team) == own
    if surface == "history":
        assert client.get(HISTORY[other]).status_code == 404


@pytest.mark.parametrize("surface", ["api", "csv"])
def test_asking_for_another_team_by_name_finds_nothing(surface, api_as, people, both_teams):
    client = api_as(people["carol"])
    query = "?team=growth&model=churn" + ("&format=csv" if surface == "csv" else "")
    response = client.get("/api/v1/audit/" + query)
    if surface == "api":
        assert response.json()["count"] == 0
    else:
        assert b"".join(response.streaming_content).decode().count("\n") == 1  # the header


def test_a_token_limited_to_one_team_reads_that_team_only(people, teams, both_teams, client):
    dave = User.objects.create_user("dave", "dave@example.com", "pw")
    for team in teams.values():
        Membership.objects.create(user=dave, team=team, role=Role.VIEWER)
    _, plain = account_services.create_token(
        user=dave, name="growth-only", scopes=["read"], team=teams["growth"]
    )
    limited = APIClient()
    limited.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert objects_seen("api", dave, client, limited, "growth") == GROWTH
    assert objects_seen("csv", dave, client, limited, "growth") == GROWTH
    everything = limited.get("/api/v1/audit/").json()["results"]
    assert {e["team"] for e in everything} == {"growth"}  # not even his own token's events
    assert objects_seen("page", dave, client, None, "") == FRAUD | GROWTH  # his session: both


def test_own_events_outside_any_team_are_mine_alone(people, both_teams, api_as):
    alice, mallory = people["alice"], people["mallory"]
    token, _ = account_services.create_token(user=alice, name="laptop", scopes=["read"])
    account_services.revoke_token(user=alice, token_id=token.pk)
    alices = {e["verb"] for e in api_as(alice).get("/api/v1/audit/?actor=alice").json()["results"]}
    assert {"token.created", "token.revoked"} <= alices
    assert api_as(mallory).get("/api/v1/audit/?actor=alice").json()["count"] == 0
    assert api_as(people["bob"]).get("/api/v1/audit/?verb=token.revoked").json()["count"] == 0


def test_after_leaving_a_team_its_events_are_no_longer_mine(people, teams, both_teams, api_as):
    bob = people["bob"]
    client = api_as(bob)
    assert client.get("/api/v1/audit/?actor=bob&verb=stage.moved").json()["count"] == 1
    Membership.objects.filter(user=bob).delete()
    assert client.get("/api/v1/audit/?actor=bob&verb=stage.moved").json()["count"] == 0
    assert client.get("/api/v1/audit/?verb=token.created&actor=bob").json()["count"] == 1


def test_a_superuser_reads_every_team(teams, both_teams, api_as, client):
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    assert objects_seen("api", root, client, api_as(root, "read"), "") == FRAUD | GROWTH
    assert objects_seen("page", root, client, None, "") == FRAUD | GROWTH


def test_events_the_other_apps_write_follow_the_same_rule(people, teams, both_teams, api_as):
    logged(team=teams["growth"], model="churn", verb="review.given", object_name="request #9")
    assert api_as(people["alice"]).get("/api/v1/audit/?verb=review.given").json()["count"] == 0
    assert api_as(people["mallory"]).get("/api/v1/audit/?verb=review.given").json()["count"] == 1

"""Who may do what through MLflow: the token's scopes and team, the caller's role, as everywhere."""

import pytest

from accounts import services as account_services
from accounts.models import Membership, Role
from audit.models import AuditEvent
from mlflow_api.models import RegisteredModelTag
from registry.models import RegisteredModel

from . import mlflow_calls
from .page_factories import registered_model

WRITES = [
    ("POST", "registered-models/create", {"name": "new-model"}),
    ("PATCH", "registered-models/update", {"name": "fraud-detector", "description": "x"}),
    ("POST", "registered-models/rename", {"name": "fraud-detector", "new_name": "renamed"}),
    ("DELETE", "registered-models/delete", {"name": "fraud-detector"}),
    ("POST", "registered-models/set-tag", {"name": "fraud-detector", "key": "k", "value": "v"}),
    ("DELETE", "registered-models/delete-tag", {"name": "fraud-detector", "key": "owner"}),
]


@pytest.fixture
def mlflow_as(client, token_for):
    return mlflow_calls.caller(client, token_for)


@pytest.fixture
def models(people, teams):
    """fraud-detector in alice's team (tagged), churn in mallory's."""
    fraud = registered_model(people["alice"], teams["fraud"], "fraud-detector", description="d")
    RegisteredModelTag.objects.create(model=fraud, key="owner", value="risk")
    registered_model(people["mallory"], teams["growth"], "churn", description="theirs")


def state() -> list:
    """Everything a write could change."""
    return [
        list(RegisteredModel.objects.order_by("name").values_list("name", "description")),
        list(RegisteredModelTag.objects.values_list("key", "value")),
        AuditEvent.objects.exclude(verb__startswith="token.").count(),
    ]


@pytest.mark.parametrize(("method", "endpoint", "params"), WRITES)
def test_a_read_token_cannot_write_and_nothing_changes(
    mlflow_as, models, alice, method, endpoint, params
):
    before = state()

    status, body = mlflow_as(alice, scopes="read")(method, endpoint, **params)

    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    assert "write scope" in body["message"]
    assert state() == before


def test_a_read_token_reads(mlflow_as, models, alice):
    status, body = mlflow_as(alice, scopes="read")(
        "GET", "registered-models/get", name="fraud-detector"
    )

    assert status == 200


@pytest.mark.parametrize(
    ("method", "endpoint", "params"),
    [
        ("GET", "registered-models/get", {"name": "churn"}),
        ("PATCH", "registered-models/update", {"name": "churn", "description": "mine now"}),
        ("POST", "registered-models/rename", {"name": "churn", "new_name": "mine"}),
        ("DELETE", "registered-models/delete", {"name": "churn"}),
        ("POST", "registered-models/set-tag", {"name": "churn", "key": "k", "value": "v"}),
        ("DELETE", "registered-models/delete-tag", {"name": "churn", "key": "k"}),
        ("POST", "registered-models/get-latest-versions", {"name": "churn"}),
    ],
)
def test_another_teams_model_does_not_exist_for_the_caller(
    mlflow_as, models, alice, method, endpoint, params
):
    before = state()

    status, body = mlflow_as(alice)(method, endpoint, **params)

    assert status == 404
    assert body == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Registered Model with name=churn not found",
    }
    assert state() == before


def test_search_never_lists_another_teams_model(mlflow_as, models, alice):
    status, body = mlflow_as(alice)("GET", "registered-models/search", filter="name LIKE '%'")

    assert [model["name"] for model in body["registered_models"]] == ["fraud-detector"]


@pytest.fixture
def alice_in_two_teams(alice, teams):
    Membership.objects.create(user=alice, team=teams["growth"], role=Role.DATA_SCIENTIST)
    return alice


def test_a_user_in_several_teams_is_told_how_to_pick_one(mlflow_as, alice_in_two_teams):
    status, body = mlflow_as(alice_in_two_teams)(
        "POST", "registered-models/create", name="new-model"
    )

    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "fraud, growth" in body["message"]
    assert "limited to one team" in body["message"]
    assert not RegisteredModel.objects.filter(name="new-model").exists()


def test_a_user_in_several_teams_still_hears_that_their_model_exists(
    mlflow_as, models, alice_in_two_teams
):
    """MLflow's client creates the model on every run and expects RESOURCE_ALREADY_EXISTS."""
    status, body = mlflow_as(alice_in_two_teams)(
        "POST", "registered-models/create", name="fraud-detector"
    )

    assert (status, body["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")


def test_a_team_limited_token_creates_in_its_team_and_sees_only_it(
    mlflow_as, models, alice_in_two_teams, teams
):
    _, plain = account_services.create_token(
        user=alice_in_two_teams, name="growth-ci", scopes=["read", "write"], team=teams["growth"]
    )
    call = mlflow_as(alice_in_two_teams, token=plain)

    status, _ = call("POST", "registered-models/create", name="new-model")
    assert status == 200
    assert RegisteredModel.objects.get(name="new-model").team == teams["growth"]

    status, body = call("GET", "registered-models/search")
    assert [model["name"] for model in body["registered_models"]] == ["churn", "new-model"]
    assert call("GET", "registered-models/get", name="fraud-detector")[0] == 404


@pytest.mark.parametrize(
    ("person", "method", "endpoint", "params"),
    [
        ("victor", "POST", "registered-models/create", {"name": "new-model"}),
        ("victor", "PATCH", "registered-models/update", {"name": "fraud-detector"}),
        ("victor", "POST", "registered-models/set-tag", {"name": "fraud-detector", "key": "k"}),
        ("carol", "POST", "registered-models/create", {"name": "new-model"}),
        ("carol", "POST", "registered-models/set-tag", {"name": "fraud-detector", "key": "k"}),
        ("bob", "POST", "registered-models/rename", {"name": "fraud-detector", "new_name": "x"}),
    ],
)
def test_a_role_that_may_not_do_it_gets_permission_denied(
    mlflow_as, models, people, person, method, endpoint, params
):
    before = state()

    status, body = mlflow_as(people[person])(method, endpoint, **params)

    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    assert state() == before


def test_devops_tag_models_and_versions_as_ci_does(mlflow_as, models, people):
    status, _ = mlflow_as(people["bob"])(
        "POST", "registered-models/set-tag", name="fraud-detector", key="deployed-by", value="ci"
    )

    assert status == 200
    assert RegisteredModelTag.objects.get(key="deployed-by").value == "ci"


def test_devops_may_create_a_model(mlflow_as, people, teams):
    status, _ = mlflow_as(people["bob"])("POST", "registered-models/create", name="new-model")

    assert status == 200


def test_the_identity_is_the_tokens_user_whatever_the_client_claims(mlflow_as, people, teams):
    status, body = mlflow_as(people["bob"])(
        "POST", "registered-models/create", name="new-model", user_id="alice"
    )

    assert body["registered_model"]["user_id"] == "bob"
    assert RegisteredModel.objects.get(name="new-model").created_by == people["bob"]


def test_a_review_only_token_reads_nothing(mlflow_as, models, alice):
    status, body = mlflow_as(alice, scopes="review")(
        "GET", "registered-models/get", name="fraud-detector"
    )

    assert (status, body["error_code"]) == (403, "PERMISSION_DENIED")
    assert "read scope" in body["message"]

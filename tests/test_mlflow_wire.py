"""The wire rules MLflow's client depends on: auth, JSON errors with error_code, exact 200s."""

import base64
import json

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import ApiToken
from registry.models import RegisteredModel

from . import mlflow_calls
from .page_factories import registered_model

GET = f"{mlflow_calls.MLFLOW_API}/registered-models/get"
CREATE = f"{mlflow_calls.MLFLOW_API}/registered-models/create"


@pytest.fixture
def model(alice, teams):
    return registered_model(alice, teams["fraud"], "fraud-detector")


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def assert_mlflow_error(response, status: int, code: str):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code, body
    assert body["message"]
    return body


def test_a_bearer_token_reads(client, model, alice, token_for):
    response = client.get(
        GET, {"name": "fraud-detector"}, HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["registered_model"]["name"] == "fraud-detector"


def test_basic_with_the_token_as_password_reads(client, model, alice, token_for):
    response = client.get(
        GET, {"name": "fraud-detector"}, HTTP_AUTHORIZATION=basic("alice", token_for(alice))
    )

    assert response.status_code == 200


def test_basic_with_another_users_name_is_refused(client, model, alice, token_for):
    response = client.get(
        GET, {"name": "fraud-detector"}, HTTP_AUTHORIZATION=basic("bob", token_for(alice))
    )

    assert_mlflow_error(response, 401, "UNAUTHENTICATED")


def test_no_credentials_answer_unauthenticated_naming_the_environment_variables(client, model):
    response = client.get(GET, {"name": "fraud-detector"})

    body = assert_mlflow_error(response, 401, "UNAUTHENTICATED")
    assert "MLFLOW_TRACKING_TOKEN" in body["message"]


@pytest.mark.parametrize("header", ["Bearer vt_not_a_token", "Basic !!!", "Token abc"])
def test_unusable_credentials_answer_unauthenticated(client, model, header):
    response = client.get(GET, {"name": "fraud-detector"}, HTTP_AUTHORIZATION=header)

    assert_mlflow_error(response, 401, "UNAUTHENTICATED")


def test_a_revoked_token_answers_unauthenticated(client, model, alice, token_for):
    plain = token_for(alice)
    account_services.revoke_token(user=alice, token_id=ApiToken.objects.get(user=alice).pk)

    response = client.get(GET, {"name": "fraud-detector"}, HTTP_AUTHORIZATION=f"Bearer {plain}")

    assert_mlflow_error(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/mlflow/api/2.0/mlflow/traces/search"),
        ("post", "/mlflow/api/2.0/mlflow/registered-models/get"),  # a known path, wrong method
        ("get", "/mlflow/ajax-api/2.0/mlflow/registered-models/get"),
        ("post", "/mlflow/"),
        ("get", "/mlflow/api/2.0/mlflow/registered-models/get/"),  # no trailing-slash redirect
    ],
)
def test_what_vetted_does_not_serve_answers_endpoint_not_found_as_json(client, method, path):
    response = getattr(client, method)(path)

    assert_mlflow_error(response, 404, "ENDPOINT_NOT_FOUND")


def test_the_links_mlflows_client_prints_to_its_ui_reach_a_page_saying_where_to_look(client):
    # `log_model` prints "View run … at: <tracking uri>/#/experiments/1/runs/…"; the fragment
    # stays in the browser, which asks for /mlflow/.
    response = client.get("/mlflow/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "MLflow's own UI is not served" in page
    assert 'href="/"' in page


def test_writes_need_no_csrf_token(alice, token_for, teams):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(
        CREATE,
        json.dumps({"name": "fraud-detector"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )

    assert response.status_code == 200
    assert RegisteredModel.objects.filter(name="fraud-detector").exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"name"',
        b"\xff\xfe",
        b'{"name": "fraud-detector", "description": "a\\u0000b"}',
        b'{"name": "fraud-detector", "tags": ' + b"[" * 100 + b"]" * 100 + b"}",
        b'{"name": "fraud-detector", "description": 1e999}',
    ],
)
def test_a_body_that_is_not_a_json_object_is_an_invalid_parameter(client, alice, token_for, body):
    response = client.post(
        CREATE,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )

    assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"name": ["a", "b"]},
        {"name": {"x": 1}},
        {"name": True},
        {"name": "fraud-detector", "tags": "owner=risk"},
        {"name": "fraud-detector", "tags": [{"value": "no key"}]},
        {"name": "fraud-detector", "tags": ["owner"]},
    ],
)
def test_missing_fields_and_wrong_types_name_the_parameter(client, alice, token_for, params):
    response = client.post(
        CREATE,
        json.dumps(params),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )

    body = assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert "'name'" in body["message"] or "'tags'" in body["message"]
    assert not RegisteredModel.objects.exists()


def test_a_huge_body_is_refused_in_mlflows_shape(client, alice, token_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        CREATE,
        json.dumps({"name": "fraud-detector", "description": "x" * 5000}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )

    assert_mlflow_error(response, 413, "INVALID_PARAMETER_VALUE")
    assert not RegisteredModel.objects.exists()


def test_a_nul_byte_in_the_query_is_refused_in_mlflows_shape(client, alice, token_for):
    response = client.get(
        GET, {"name": "fraud\x00detector"}, HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}"
    )

    assert_mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_success_is_exactly_200_with_an_object_for_every_kind_of_write(
    client, alice, token_for, teams
):
    header = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    calls = [
        ("post", "registered-models/create", {"name": "fraud-detector"}),
        ("patch", "registered-models/update", {"name": "fraud-detector", "description": "d"}),
        ("post", "registered-models/set-tag", {"name": "fraud-detector", "key": "k", "value": "v"}),
        ("delete", "registered-models/delete-tag", {"name": "fraud-detector", "key": "k"}),
    ]
    for method, endpoint, params in calls:
        response = client.generic(
            method.upper(),
            f"{mlflow_calls.MLFLOW_API}/{endpoint}",
            json.dumps(params),
            content_type="application/json",
            **header,
        )
        assert response.status_code == 200, (endpoint, response.content)
        assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", CREATE),
        # an artifact's bytes are read from the stream only where the server ends it (gunicorn)
        ("PUT", "/mlflow/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl"),
    ],
)
def test_a_chunked_body_the_server_does_not_end_is_refused_in_mlflows_shape(
    client, alice, token_for, method, path
):
    response = client.generic(
        method,
        path,
        b'{"name": "fraud-detector"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
        HTTP_TRANSFER_ENCODING="chunked",
    )

    body = assert_mlflow_error(response, 411, "INVALID_PARAMETER_VALUE")
    assert "Content-Length" in body["message"]
    assert not RegisteredModel.objects.exists()

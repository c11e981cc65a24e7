"""A JSON body's values must have the type the schema names: `0` for text is refused, not read
as "0" (vetted/serializers.py). Multipart forms, where every value is text, are unchanged."""

import importlib
import inspect
from pathlib import Path

import pytest
from rest_framework import serializers

from accounts.models import ApiToken
from registry.models import ModelAlias, RegisteredModel
from tests.conftest import a_model_file
from vetted.serializers import JSONTypedInput

ROOT = Path(__file__).resolve().parent.parent


def test_every_serializer_of_the_api_checks_json_types():
    unchecked = []
    for path in ROOT.glob("*/api/*.py"):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, serializers.BaseSerializer):
                continue
            if not issubclass(cls, JSONTypedInput):
                unchecked.append(f"{module.__name__}.{name}")
    assert not unchecked, f"Derive these from vetted.serializers.TypedSerializer: {unchecked}"


WRONG_TYPES = {
    "a number for text": ({"name": "m", "team": "fraud", "description": 0}, "description"),
    "a number for a choice": ({"name": "m", "team": "fraud", "task_type": 1}, "task_type"),
    "true for text": ({"name": True, "team": "fraud"}, "name"),
    "a list for text": ({"name": "m", "team": ["fraud"]}, "team"),
    "a number in a list of text": ({"name": "m", "team": "fraud", "tags": ["a", 7]}, "tags"),
    "text for a list": ({"name": "m", "team": "fraud", "tags": "a,b"}, "tags"),
}


@pytest.mark.parametrize(("body", "field"), WRONG_TYPES.values(), ids=list(WRONG_TYPES))
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field(api_as, alice, body, field):
    response = api_as(alice).post("/api/v1/models/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert field in error["detail"] and "Expected " in error["detail"][field][0]
    assert not RegisteredModel.objects.exists()


def test_the_message_says_what_was_expected_and_what_came(api_as, alice):
    response = api_as(alice).post(
        "/api/v1/models/", {"name": "m", "team": "fraud", "tags": ["a", 7]}, format="json"
    )
    assert response.json()["error"]["detail"]["tags"] == ["Item 2: Expected text, not an integer."]


def test_a_version_number_sent_as_text_is_refused(api_as, alice, bob):
    api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": [a_model_file()], "paths": ["model.bin"]},
        format="multipart",
    )
    response = api_as(bob).put("/api/v1/models/m/aliases/champion", {"version": "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["version"] == ["Expected an integer, not text."]
    assert not ModelAlias.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ci", "scopes": "read"},
        {"name": "ci", "scopes": ["read"], "expires_in_days": True},
        {"name": "ci", "scopes": ["read"], "expires_in_days": "30"},
        {"name": 5, "scopes": ["read"]},
    ],
)
def test_a_token_request_of_the_wrong_types_makes_no_token(api_as, alice, body):
    client = api_as(alice)
    before = ApiToken.objects.count()
    response = client.post("/api/v1/tokens/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert ApiToken.objects.count() == before


def test_null_is_left_to_the_field(api_as, alice):
    response = api_as(alice).post(
        "/api/v1/models/", {"name": "m", "team": "fraud", "description": None}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["description"] == ["This field may not be null."]


def test_the_right_types_still_work_and_forms_still_send_text(api_as, alice):
    client = api_as(alice)
    made = client.post(
        "/api/v1/models/", {"name": "m", "team": "fraud", "tags": ["a"]}, format="json"
    )
    assert made.status_code == 201
    pushed = client.post(
        "/api/v1/models/m/versions/",
        {"files": [a_model_file()], "paths": ["model.bin"], "description": "v1"},
        format="multipart",
    )
    assert pushed.status_code == 201, pushed.content[:300]

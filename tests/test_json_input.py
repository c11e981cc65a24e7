"""One rule for JSON input, API and page alike: finite numbers, no NUL, bounded depth and size.

Each case answered a 500 before (issue 11): now a 400 that says what is wrong, and nothing stored.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import ModelVersion, RegisteredModel

DEEP = "[" * 50_000 + "]" * 50_000
HUGE = "1" + "0" * 400
BAD_JSON = {
    "NUL in a value": ('{"a": "x\\u0000y"}', "NUL"),
    "NUL in a key": ('{"a\\u0000": 1}', "NUL"),
    "NaN inside a list": ('{"a": [NaN]}', "NaN"),
    "Infinity": ('{"a": Infinity}', "Infinity"),
    "a 400-digit integer": ('{"a": ' + HUGE + "}", "too large"),
    "50,000 levels deep": ('{"a": ' + DEEP + "}", "32 levels"),
}


@pytest.mark.parametrize("field", ["params", "metrics"])
@pytest.mark.parametrize(("text", "says"), BAD_JSON.values(), ids=list(BAD_JSON))
def test_a_multipart_push_with_bad_json_is_a_400(api_as, alice, field, text, says):
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", field: text, "files": [SimpleUploadedFile("MLmodel", b"x: 1")]},
        format="multipart",
    )
    assert response.status_code == 400, response.content[:200]
    assert says in response.json()["error"]["message"]
    assert not ModelVersion.objects.exists() and not RegisteredModel.objects.exists()


@pytest.mark.parametrize(("text", "says"), BAD_JSON.values(), ids=list(BAD_JSON))
def test_a_json_body_with_bad_json_is_a_400(api_as, alice, teams, text, says):
    client = api_as(alice)
    made = client.post("/api/v1/models/", {"name": "m", "team": "fraud"}, format="json")
    assert made.status_code == 201
    body = '{"description": "x", "tags": ' + text.replace('{"a": ', "[").rstrip("}") + "]}"
    response = client.patch("/api/v1/models/m/", body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["error"]["message"]
    assert RegisteredModel.objects.get(name="m").description == ""


def test_requirements_with_a_nul_are_a_400(api_as, alice):
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "requirements": json.dumps(["numpy\x00"])},
        format="multipart",
    )
    assert response.status_code == 400 and "NUL" in response.json()["error"]["message"]


@pytest.mark.parametrize(("text", "says"), BAD_JSON.values(), ids=list(BAD_JSON))
def test_the_upload_page_refuses_bad_json_with_a_message(client, alice, teams, text, says):
    from registry import services

    services.create_model(actor=alice, name="m", team=teams["fraud"])
    client.force_login(alice)
    response = client.post("/models/m/versions/new/", {"params": text})
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_the_upload_form_starts_with_empty_params_and_metrics(client, alice, teams):
    from registry import services

    services.create_model(actor=alice, name="m", team=teams["fraud"])
    client.force_login(alice)
    html = client.get("/models/m/versions/new/").content.decode()
    assert ">null</textarea>" not in html


@pytest.mark.parametrize("name", ["a" * 300, "😀" * 100])
def test_a_path_part_longer_than_255_bytes_is_a_400(api_as, alice, name):
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": [SimpleUploadedFile("x", b"x")], "paths": [f"dir/{name}"]},
        format="multipart",
    )
    assert response.status_code == 400 and "255 bytes" in response.json()["error"]["message"]
    assert not ModelVersion.objects.exists()


def test_compare_with_a_superscript_digit_is_not_a_500(client, alice, teams):
    from registry import services

    services.create_model(actor=alice, name="m", team=teams["fraud"])
    client.force_login(alice)
    assert client.get("/models/m/compare/?a=%C2%B2&b=1").status_code == 200


def test_an_mlmodel_over_1_mib_is_called_too_large_not_a_yaml_error(api_as, alice):
    big = b"flavors: {}\n# " + b"x" * (1024 * 1024 + 10) + b"\n"
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": [SimpleUploadedFile("MLmodel", big)]},
        format="multipart",
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "small YAML file, at most 1.0 MiB" in message or "at most 1" in message
    assert "YAML" not in message.split("small YAML")[0]
    assert not ModelVersion.objects.exists()

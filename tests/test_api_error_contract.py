"""Under /api/ every answer is the JSON error shape, whatever produced it; every request has an
id that the log carries; a refused request is one line in the log, not a traceback."""

import io
import logging

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path


def crashes(request):
    raise RuntimeError("a bug, as a real one would")


def fine(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/crash/", crashes),
    path("crash/", crashes),
    path("", include("vetted.urls")),
]


@pytest.fixture
def console():
    """What the project's console log handler writes, as configured in settings.LOGGING."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_an_unknown_api_address_is_a_json_404(client, db):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and "/api/v1/docs/" in error["message"]
    assert len(response["X-Request-ID"]) == 12


def test_a_body_too_large_for_memory_is_a_json_400(api_as, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_as(alice).post(
        "/api/v1/models/", '{"name": "' + "x" * 5000 + '"}', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == 400


def test_a_crash_under_api_is_a_json_500_with_the_request_id_the_log_has(settings, db, console):
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/api/v1/crash/")
    assert response.status_code == 500
    error = response.json()["error"]
    request_id = response["X-Request-ID"]
    assert error["request_id"] == request_id and request_id in error["message"]
    assert "Traceback" not in response.content.decode() and "RuntimeError" not in error["message"]
    log = console.getvalue()
    assert f"[{request_id}]" in log and "RuntimeError: a bug" in log


def test_a_page_that_crashes_stays_html(settings, db):
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/crash/")
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_a_refused_request_is_one_line_in_the_log(client, people, teams, console):
    from tests.page_factories import registered_model

    registered_model(people["alice"], teams["fraud"], "fraud-detector")
    client.force_login(people["carol"])
    assert client.post("/models/fraud-detector/edit/", {"description": "x"}).status_code == 403
    log = console.getvalue()
    forbidden = [line for line in log.splitlines() if "Forbidden" in line]
    assert len(forbidden) == 1 and "Traceback" not in log


def test_a_form_body_where_json_is_expected_is_a_json_415(api_as, alice, teams):
    """Only the version upload takes a form (it carries files); a form elsewhere would read a
    one-item list and a string alike, so it is refused by name instead of half-understood."""
    created = api_as(alice).post("/api/v1/models/", {"name": "x", "team": "fraud"})
    assert created.status_code == 201
    response = api_as(alice).patch("/api/v1/models/x/", {"tags": "a"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["message"] == (
        "This address takes application/json, not multipart/form-data."
    )
    schema = api_as(alice).get("/api/v1/schema/?format=json").json()
    patch_body = schema["paths"]["/api/v1/models/{name}/"]["patch"]["requestBody"]["content"]
    assert list(patch_body) == ["application/json"]

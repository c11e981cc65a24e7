"""A page that is not there: the project's own 404 page, with DEBUG on as under `make run`."""

import pytest

from .page_factories import registered_model


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True  # pytest-django turns it off; `make run` has it on


def assert_own_404_page(response):
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing here, or it belongs to a team you are not in." in html
    assert "DEBUG = True" not in html  # Django's technical 404 page says so at its end


def test_an_unknown_address_shows_the_projects_404_page(client, alice):
    client.force_login(alice)
    assert_own_404_page(client.get("/no-such-page/"))


def test_an_unknown_model_and_version_show_it_too(client, alice, teams):
    registered_model(alice, teams["fraud"], "fraud-detector")
    client.force_login(alice)
    assert_own_404_page(client.get("/models/no-such-model/"))
    assert_own_404_page(client.get("/models/fraud-detector/versions/7/"))


def test_another_teams_model_looks_the_same_as_a_missing_one(client, alice, people, teams):
    registered_model(alice, teams["fraud"], "fraud-detector")
    client.force_login(people["mallory"])
    assert_own_404_page(client.get("/models/fraud-detector/"))


def test_the_api_still_answers_json(client):
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

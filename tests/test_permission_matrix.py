"""One matrix of who may do what, asserted through the pages and through the API alike.

Each cell is the decision both surfaces must reach: allowed, forbidden (403), hidden (404, the
model belongs to another team) or login (anonymous: the page redirects, the API answers 401).
"""

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from .conftest import a_model_file
from .page_factories import pushed_version, registered_model

ALLOWED, FORBIDDEN, HIDDEN, LOGIN = "allowed", "forbidden", "hidden", "login"
ACTIONS = ["view model", "push version", "edit model", "change stage", "set alias"]

MATRIX = {
    # in the order of ACTIONS: view, push, edit, stage, alias
    "alice": [ALLOWED, ALLOWED, ALLOWED, ALLOWED, ALLOWED],
    "bob": [ALLOWED, ALLOWED, FORBIDDEN, ALLOWED, ALLOWED],
    "carol": [ALLOWED, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
    "victor": [ALLOWED, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
    "mallory": [HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN],
    "anonymous": [LOGIN, LOGIN, LOGIN, LOGIN, LOGIN],
}

NAME = "fraud-detector"


def page_decision(response) -> str:
    if response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL)):
        return LOGIN
    return {200: ALLOWED, 302: ALLOWED, 403: FORBIDDEN, 404: HIDDEN}.get(
        response.status_code, f"page answered {response.status_code}"
    )


def api_decision(response) -> str:
    return {200: ALLOWED, 201: ALLOWED, 401: LOGIN, 403: FORBIDDEN, 404: HIDDEN}.get(
        response.status_code, f"API answered {response.status_code}"
    )


def through_the_page(client, action):
    version = reverse("registry:version_detail", args=[NAME, 1])
    if action == "view model":
        return client.get(reverse("registry:model_detail", args=[NAME]))
    if action == "push version":
        url = reverse("registry:version_push", args=[NAME])
        return client.post(url, {"description": "from the page", "files": [a_model_file()]})
    if action == "edit model":
        url = reverse("registry:model_edit", args=[NAME])
        return client.post(url, {"description": "edited on the page", "task_type": "other"})
    if action == "change stage":  # archiving stays direct; staging and production need a request
        return client.post(f"{version}stage/", {"stage": "archived"})
    return client.post(f"{version}aliases/", {"alias": "champion"})


def through_the_api(api, action):
    model = f"/api/v1/models/{NAME}/"
    if action == "view model":
        return api.get(model)
    if action == "push version":
        data = {"description": "from the API", "files": [a_model_file()]}
        return api.post(f"{model}versions/", data, format="multipart")
    if action == "edit model":
        return api.patch(model, {"description": "edited by the API"}, format="json")
    if action == "change stage":
        return api.post(f"{model}versions/1/stage/", {"stage": "archived"}, format="json")
    return api.put(f"/api/v1/models/{NAME}/aliases/challenger", {"version": 1}, format="json")


@pytest.mark.parametrize("who", MATRIX)
def test_the_page_and_the_api_reach_the_same_decision(who, client, people, teams, api_as):
    alice = people["alice"]
    pushed_version(alice, registered_model(alice, teams["fraud"], NAME))
    if who == "anonymous":
        api = APIClient()
    else:
        client.force_login(people[who])
        api = api_as(people[who])

    by_page = {action: page_decision(through_the_page(client, action)) for action in ACTIONS}
    by_api = {action: api_decision(through_the_api(api, action)) for action in ACTIONS}

    expected = dict(zip(ACTIONS, MATRIX[who], strict=True))
    assert by_page == expected
    assert by_api == expected

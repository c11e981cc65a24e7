"""Who may do what in threads, asserted through the pages and the API alike (discussions/access.py).

bob started the thread; every action below acts on it or on his first comment.
"""

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from discussions import services
from discussions.models import Comment, Thread

from .page_factories import pushed_version, registered_model

ALLOWED, FORBIDDEN, HIDDEN, LOGIN = "allowed", "forbidden", "hidden", "login"
A, F, H, L = ALLOWED, FORBIDDEN, HIDDEN, LOGIN
NAME = "fraud-detector"
ACTIONS = ["read", "start", "reply", "edit", "delete", "resolve", "reopen", "history"]

MATRIX = {
    # in the order of ACTIONS
    "alice": [A, A, A, F, A, A, A, A],  # owner: deletes anyone's comment, edits only her own
    "bob": [A, A, A, A, A, A, A, A],  # the author
    "carol": [A, A, A, F, F, A, A, A],
    "victor": [A, F, F, F, F, F, F, A],  # viewers read
    "mallory": [H, H, H, H, H, H, H, H],  # another team
    "anonymous": [L, L, L, L, L, L, L, L],
}


def page_decision(response) -> str:
    if response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL)):
        return LOGIN
    return {200: A, 302: A, 403: F, 404: H}.get(response.status_code, str(response.status_code))


def api_decision(response) -> str:
    return {200: A, 201: A, 204: A, 401: L, 403: F, 404: H}.get(
        response.status_code, str(response.status_code)
    )


def through_the_page(client, action, thread, comment):
    t, c = thread.pk, comment.pk
    if action == "read":
        return client.get(f"/models/{NAME}/")
    if action == "start":
        return client.post("/threads/", {"anchor": f"model:{NAME}", "body": "new"})
    if action == "reply":
        return client.post(f"/threads/{t}/reply/", {"body": "reply"})
    if action == "edit":
        return client.post(f"/threads/{t}/comments/{c}/edit/", {"body": "edited"})
    if action == "delete":
        return client.post(f"/threads/{t}/comments/{c}/delete/")
    if action in ("resolve", "reopen"):
        return client.post(f"/threads/{t}/{action}/")
    return client.get(f"/threads/{t}/comments/{c}/history/")


def through_the_api(api, action, thread, comment):
    url = f"/api/v1/threads/{thread.pk}/"
    if action == "read":
        return api.get("/api/v1/threads/", {"anchor": f"model:{NAME}"})
    if action == "start":
        return api.post(
            "/api/v1/threads/", {"anchor": f"model:{NAME}", "body": "new"}, format="json"
        )
    if action == "reply":
        return api.post(f"{url}comments/", {"body": "reply"}, format="json")
    if action == "edit":
        return api.patch(f"{url}comments/{comment.pk}/", {"body": "edited"}, format="json")
    if action == "delete":
        return api.delete(f"{url}comments/{comment.pk}/")
    if action in ("resolve", "reopen"):
        return api.post(f"{url}{action}/")
    return api.get(f"{url}comments/{comment.pk}/revisions/")


def happened(action, thread, comment) -> bool | None:
    """Whether the write took place; None for reads."""
    comment.refresh_from_db()
    thread.refresh_from_db()
    return {
        "start": Thread.objects.count() == 2,
        "reply": Comment.objects.filter(body="reply").exists(),
        "edit": comment.body == "edited",
        "delete": comment.deleted_at is not None,
        "resolve": thread.resolved_at is not None,
        "reopen": thread.resolved_at is None,
    }.get(action)


@pytest.fixture
def arranged(people, teams):
    def make(action):
        alice = people["alice"]
        pushed_version(alice, registered_model(alice, teams["fraud"], NAME))
        thread = services.start_thread(
            author=people["bob"], kind="model", anchor_id=NAME, body="bob's"
        )
        if action == "reopen":
            services.resolve_thread(actor=people["bob"], thread=thread)
        return thread, thread.comments.get()

    return make


@pytest.mark.parametrize("surface", ["page", "api"])
@pytest.mark.parametrize("who", MATRIX)
@pytest.mark.parametrize("action", ACTIONS)
def test_pages_and_api_reach_the_same_decision(
    surface, who, action, client, people, api_as, arranged
):
    thread, comment = arranged(action)
    expected = MATRIX[who][ACTIONS.index(action)]
    if surface == "page":
        if who != "anonymous":
            client.force_login(people[who])
        decision = page_decision(through_the_page(client, action, thread, comment))
    else:
        api = APIClient() if who == "anonymous" else api_as(people[who])
        decision = api_decision(through_the_api(api, action, thread, comment))
    assert decision == expected
    effect = happened(action, thread, comment)
    if effect is not None:
        assert effect is (expected == ALLOWED), "the write did not do what was decided"

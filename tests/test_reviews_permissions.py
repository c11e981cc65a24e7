"""Who may do what with promotion requests: one matrix, asserted through the pages and the API.

The request under test: dana (a data scientist, not an owner) asks to move iris v2 to
production. People use the API with a personal token that carries the review scope; the two
token rows are dana's CI token (read, write) and bob's review token (read, write, review).
"""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import Membership, Role
from reviews import services
from reviews.models import Policy, PromotionRequest, Review

from .page_factories import pushed_version, registered_model
from .test_permission_matrix import ALLOWED, FORBIDDEN, HIDDEN

A, F, H = ALLOWED, FORBIDDEN, HIDDEN
ACTIONS = ["view", "open", "comment", "approve", "merge", "withdraw", "close", "set policy"]
MATRIX = {
    # view, open, comment, approve, merge, withdraw, close, set policy
    "alice": [A, A, A, F, A, A, A, A],  # data scientist, owner: production wants DevOps
    "dana": [A, A, A, F, A, A, F, F],  # the author: no self-approval
    "bob": [A, A, A, A, A, F, A, F],  # DevOps
    "carol": [A, F, A, F, F, F, F, F],  # app developer
    "victor": [A, F, F, F, F, F, F, F],  # viewer
    "mallory": [H, H, H, H, H, H, H, H],  # another team
    "ci token": [A, A, A, F, F, A, F, F],  # dana's, read and write
    "review token": [A, A, A, A, A, F, A, F],  # bob's, with the review scope
}
TOKENS = {"ci token": ("dana", "read,write"), "review token": ("bob", "read,write,review")}


@pytest.fixture
def request_by_dana(people, teams):
    alice = people["alice"]
    dana = people["dana"] = _member("dana", teams["fraud"], Role.DATA_SCIENTIST)
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model)
    version = pushed_version(alice, model)
    return services.open_request(actor=dana, version=version, to_stage="production")


def _member(username, team, role):
    user = User.objects.create_user(username, f"{username}@example.com", "x")
    Membership.objects.create(user=user, team=team, role=role)
    return user


def effect_of(action) -> bool:
    """Whether the action's write happened (a refused one must leave no trace)."""
    request = PromotionRequest.objects.get(number=1)
    return {
        "view": True,
        "open": PromotionRequest.objects.filter(to_stage="staging").exists(),
        "comment": Review.objects.filter(decision="comment").exists(),
        "approve": Review.objects.filter(decision="approve").exists(),
        "merge": request.state == "merged",
        "withdraw": request.state == "withdrawn",
        "close": request.state == "closed",
        "set policy": Policy.objects.exists(),
    }[action]


POLICY_FORM = {
    "prefix": "team-staging",
    "to_stage": "staging",
    "team-staging-required_approvals": "2",
    "team-staging-checks": "[]",
}


def through_the_page(client, action):
    if action == "view":
        return client.get("/requests/1/")
    if action == "open":
        return client.post("/models/iris/versions/1/requests/", {"to_stage": "staging"})
    if action in ("comment", "approve"):
        return client.post("/requests/1/reviews/", {"decision": action, "body": "seen"})
    if action == "close":
        return client.post("/requests/1/close/", {"reason": "superseded"})
    if action == "set policy":
        return client.post("/teams/fraud/policies/", POLICY_FORM)
    return client.post(f"/requests/1/{action}/")


def through_the_api(api, action):
    if action == "view":
        return api.get("/api/v1/requests/1/")
    if action == "open":
        return api.post(
            "/api/v1/models/iris/requests/", {"version": 1, "to_stage": "staging"}, format="json"
        )
    if action in ("comment", "approve"):
        return api.post(
            "/api/v1/requests/1/reviews/", {"decision": action, "body": "seen"}, format="json"
        )
    if action == "close":
        return api.post("/api/v1/requests/1/close/", {"reason": "superseded"}, format="json")
    if action == "set policy":
        return api.put(
            "/api/v1/teams/fraud/policies/",
            {"to_stage": "staging", "required_approvals": 2},
            format="json",
        )
    return api.post(f"/api/v1/requests/1/{action}/")


def decision_of(response) -> str:
    code = response.status_code
    assert not (code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL)))
    return {200: A, 201: A, 302: A, 403: F, 404: H}.get(code, f"answered {code}")


def _ready_to_merge(people, action):
    if action == "merge":
        request = PromotionRequest.objects.get(number=1)
        services.give_review(actor=people["bob"], request=request, decision="approve")


CASES = [
    pytest.param(who, action, surface, id=f"{who}-{action}-{surface}")
    for who in MATRIX
    for action in ACTIONS
    for surface in (("api",) if who in TOKENS else ("page", "api"))
]


@pytest.mark.parametrize(("who", "action", "surface"), CASES)
def test_every_role_and_token_reaches_the_expected_decision(
    who, action, surface, client, people, api_as, request_by_dana
):
    _ready_to_merge(people, action)
    if surface == "page":
        client.force_login(people[who])
        response = through_the_page(client, action)
    else:
        user, scopes = TOKENS.get(who, (who, "read,write,review"))
        response = through_the_api(api_as(people[user], scopes), action)

    expected = MATRIX[who][ACTIONS.index(action)]
    assert decision_of(response) == expected, response.content[:400]
    if action != "view":
        assert effect_of(action) == (expected == A)

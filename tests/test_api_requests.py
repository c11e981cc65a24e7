"""Promotion requests through the API: the workflow a CI job, reviewers and an app go through."""

import io

import pytest
from django.core.management import call_command

from accounts.models import ApiToken, Membership
from audit.models import AuditEvent
from notifications.models import Event, Notification, Watch
from registry.models import ModelVersion
from reviews.models import PromotionRequest

from .page_factories import pushed_version, registered_model

M = "/api/v1/models/iris"


@pytest.fixture
def iris(alice, teams):
    """iris with two versions: v1 (accuracy 0.95), v2 (accuracy 0.97)."""
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model, metrics={"accuracy": 0.95})
    pushed_version(alice, model, metrics={"accuracy": 0.97})
    return model


@pytest.fixture
def reviewer(api_as):
    """A person's token that may approve and merge (scope review)."""

    def make(user):
        return api_as(user, "read,write,review")

    return make


def open_request(client, version=2, to_stage="production", **extra):
    return client.post(
        f"{M}/requests/",
        {"version": version, "to_stage": to_stage, **extra},
        format="json",
    )


def review(client, number, decision, body=""):
    return client.post(
        f"/api/v1/requests/{number}/reviews/", {"decision": decision, "body": body}, format="json"
    )


def error(response) -> str:
    return response.json()["error"]["message"]


def test_a_ci_token_opens_a_request_and_says_what_is_missing(api_as, alice, iris):
    answer = open_request(api_as(alice), message="Better accuracy")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["number"] == 1 and body["state"] == "open" and body["kind"] == "promote"
    assert body["missing"] == ["needs 1 DevOps approval"]
    assert body["author"] == "alice" and body["message"] == "Better accuracy"
    event = AuditEvent.objects.get(verb="request.opened")
    assert event.after == {"version": 2, "to_stage": "production", "kind": "promote"}
    assert event.token_name == "ci"


def test_devops_approves_merges_and_the_app_resolves_the_new_version(
    api_as, reviewer, alice, bob, people, iris
):
    open_request(api_as(alice))
    approved = review(reviewer(bob), 1, "approve", "Ship it")
    assert approved.status_code == 201 and approved.json()["missing"] == []

    merged = reviewer(bob).post("/api/v1/requests/1/merge/")

    assert merged.status_code == 200, merged.content
    assert merged.json()["state"] == "merged" and merged.json()["merged_by"] == "bob"
    resolved = api_as(people["carol"], "read").get(f"{M}/stages/production")
    assert resolved.status_code == 200 and resolved.json()["version"] == 2
    events = AuditEvent.objects.filter(model_name="iris").order_by("id")
    verbs = list(events.values_list("verb", flat=True))
    assert verbs[-4:] == ["request.opened", "review.given", "stage.moved", "request.merged"]


def test_merging_archives_the_previous_production_version(api_as, reviewer, alice, bob, iris):
    for number in (1, 2):
        open_request(api_as(alice), version=number)
        request = PromotionRequest.objects.get(version__number=number)
        review(reviewer(bob), request.number, "approve")
        assert reviewer(bob).post(f"/api/v1/requests/{request.number}/merge/").status_code == 200
    assert dict(ModelVersion.objects.values_list("number", "stage")) == {
        1: "archived",
        2: "production",
    }


def test_it_refuses_self_approval(reviewer, alice, iris):
    open_request(reviewer(alice), to_stage="staging")
    answer = review(reviewer(alice), 1, "approve")
    assert answer.status_code == 403
    assert "You opened this request" in error(answer)


def test_a_ci_token_comments_but_never_approves_or_merges(api_as, reviewer, alice, bob, iris):
    open_request(api_as(alice))
    ci = api_as(bob)
    assert review(ci, 1, "comment", "LGTM from CI").status_code == 201
    refused = review(ci, 1, "approve")
    assert refused.status_code == 403 and "review scope" in error(refused)
    review(reviewer(bob), 1, "approve")
    assert ci.post("/api/v1/requests/1/merge/").status_code == 403
    assert PromotionRequest.objects.get().state == "open"


def test_the_default_policy_wants_devops_for_production_and_anyone_but_viewers_for_staging(
    reviewer, alice, people, iris
):
    carol, victor = people["carol"], people["victor"]
    open_request(reviewer(alice))
    refused = review(reviewer(carol), 1, "approve")
    assert refused.status_code == 403 and "DevOps" in error(refused)
    open_request(reviewer(alice), version=1, to_stage="staging")
    assert review(reviewer(carol), 2, "approve").json()["missing"] == []
    assert review(reviewer(victor), 2, "comment").status_code == 403


def test_another_teams_request_is_not_found(api_as, reviewer, alice, people, iris):
    open_request(api_as(alice))
    mallory = reviewer(people["mallory"])
    assert mallory.get("/api/v1/requests/1/").status_code == 404
    assert review(mallory, 1, "approve").status_code == 404
    assert mallory.post("/api/v1/requests/1/merge/").status_code == 404
    assert mallory.get("/api/v1/requests/?state=").json()["results"] == []


def test_a_review_of_a_merged_request_is_refused_with_a_clear_message(
    api_as, reviewer, alice, bob, iris
):
    open_request(api_as(alice))
    review(reviewer(bob), 1, "approve")
    reviewer(bob).post("/api/v1/requests/1/merge/")
    late = review(reviewer(bob), 1, "request_changes", "wait")
    assert late.status_code == 409
    assert "Request #1 is merged already: your review was not recorded." in error(late)
    again = reviewer(bob).post("/api/v1/requests/1/merge/")
    assert again.status_code == 409
    assert ModelVersion.objects.get(number=2).stage == "production"


def test_changes_requested_block_until_replaced_by_an_approval(api_as, reviewer, alice, bob, iris):
    open_request(api_as(alice))
    blocked = review(reviewer(bob), 1, "request_changes", "Retrain on March")
    assert blocked.json()["missing"] == ["needs 1 DevOps approval", "bob requested changes"]
    refused = reviewer(bob).post("/api/v1/requests/1/merge/")
    assert refused.status_code == 403 and "bob requested changes" in error(refused)
    body = review(reviewer(bob), 1, "approve").json()
    assert body["missing"] == []
    first, second = body["reviews"]
    assert (
        first["dismissed_reason"] == "replaced by a newer review" and second["dismissed_at"] is None
    )
    assert AuditEvent.objects.filter(verb="review.dismissed").count() == 1


def test_metric_checks_pass_or_fail_and_a_missing_metric_fails(api_as, reviewer, alice, bob, iris):
    checks = [
        {"kind": "metric_threshold", "metric": "accuracy", "op": ">=", "value": 0.96},
        {"kind": "metric_threshold", "metric": "auc", "op": ">", "value": 0.5},
    ]
    policy = {"to_stage": "production", "required_approvals": 1, "required_roles": ["devops"]}
    answer = api_as(alice).put(
        "/api/v1/teams/fraud/policies/", {**policy, "checks": checks}, format="json"
    )
    assert answer.status_code == 200, answer.content
    open_request(api_as(alice), version=1)
    body = review(reviewer(bob), 1, "approve").json()
    assert [(c["name"], c["state"], c["detail"]) for c in body["checks"]] == [
        ("accuracy ≥ 0.96", "fail", "0.95"),
        ("auc > 0.5", "fail", "metric not recorded"),
    ]
    assert body["missing"] == [
        "check accuracy ≥ 0.96 failed: 0.95",
        "check auc > 0.5 failed: metric not recorded",
    ]
    assert reviewer(bob).post("/api/v1/requests/1/merge/").status_code == 403


def test_not_worse_than_production_compares_with_the_version_there(
    api_as, reviewer, alice, bob, iris, django_capture_on_commit_callbacks
):
    pushed_version(alice, iris, metrics={"accuracy": 0.90})  # v3
    check = {"kind": "not_worse_than_production", "metric": "accuracy", "tolerance": 0.01}
    api_as(alice).put(
        "/api/v1/teams/fraud/policies/",
        {
            "to_stage": "production",
            "required_approvals": 1,
            "required_roles": ["devops"],
            "checks": [check],
        },
        format="json",
    )
    open_request(api_as(alice), version=3)
    first = api_as(alice).get("/api/v1/requests/1/").json()
    assert first["checks"][0]["state"] == "pass"  # nothing in production yet
    review(reviewer(bob), 1, "approve")
    open_request(api_as(alice), version=2)
    review(reviewer(bob), 2, "approve")
    with django_capture_on_commit_callbacks(execute=True):  # stage_moved is sent on commit
        assert reviewer(bob).post("/api/v1/requests/2/merge/").status_code == 200

    after = api_as(alice).get("/api/v1/requests/1/").json()

    assert after["checks"][0]["state"] == "fail"
    assert after["checks"][0]["detail"] == "0.9 against 0.97 in production v2"
    # bob approved when the check passed: his approval is dismissed, recorded.
    assert after["reviews"][0]["dismissed_reason"] == "the checks' results changed"
    assert AuditEvent.objects.filter(verb="review.dismissed").exists()


def test_a_policy_change_dismisses_approvals_of_open_requests(api_as, reviewer, alice, bob, iris):
    open_request(api_as(alice))
    review(reviewer(bob), 1, "approve")
    changed = api_as(alice).put(
        "/api/v1/teams/fraud/policies/",
        {
            "to_stage": "production",
            "required_approvals": 2,
            "required_roles": ["devops", "data_scientist"],
        },
        format="json",
    )
    assert changed.status_code == 200
    body = api_as(alice).get("/api/v1/requests/1/").json()
    assert body["reviews"][0]["dismissed_reason"] == "the policy changed"
    assert body["missing"] == ["needs 1 data scientist approval", "needs 1 DevOps approval"]
    event = AuditEvent.objects.get(verb="policy.changed")
    assert event.before is None and event.after["required_approvals"] == 2


def test_only_owners_change_policies_and_bad_ones_are_refused(api_as, alice, bob, iris):
    policy = {"to_stage": "staging", "required_approvals": 1}
    assert (
        api_as(bob).put("/api/v1/teams/fraud/policies/", policy, format="json").status_code == 403
    )
    for bad, words in [
        (
            {"required_approvals": 1, "required_roles": ["devops", "app_developer"]},
            "at least as many",
        ),
        ({"checks": [{"kind": "coin_flip"}]}, "give a kind"),
        (
            {"checks": [{"kind": "metric_threshold", "metric": "auc", "op": "=", "value": 1}]},
            "op must",
        ),
        ({"required_roles": ["viewer"]}, "required_roles"),
    ]:
        answer = api_as(alice).put(
            "/api/v1/teams/fraud/policies/", {**policy, **bad}, format="json"
        )
        assert answer.status_code == 400 and words in error(answer), (bad, answer.content)
    shown = api_as(bob).get("/api/v1/teams/fraud/policies/").json()
    assert [(p["to_stage"], p["scope"]) for p in shown] == [
        ("staging", "default"),
        ("production", "default"),
    ]


def test_a_model_policy_overrides_the_teams(api_as, reviewer, alice, bob, people, iris):
    api_as(alice).put(
        "/api/v1/teams/fraud/policies/",
        {"to_stage": "staging", "model": "iris", "required_approvals": 1, "auto_merge": True},
        format="json",
    )
    open_request(api_as(alice), to_stage="staging")
    merged = review(reviewer(people["carol"]), 1, "approve").json()
    assert merged["state"] == "merged"  # auto merge on the last approval
    assert ModelVersion.objects.get(number=2).stage == "staging"


def test_withdraw_and_close(api_as, alice, bob, iris):
    open_request(api_as(alice), version=1)
    open_request(api_as(alice), version=2)
    assert api_as(bob).post("/api/v1/requests/1/withdraw/").status_code == 403
    assert api_as(alice).post("/api/v1/requests/1/withdraw/").json()["state"] == "withdrawn"
    refused = api_as(bob).post("/api/v1/requests/2/close/", {"reason": ""}, format="json")
    assert refused.status_code == 400
    closed = api_as(bob).post(
        "/api/v1/requests/2/close/", {"reason": "superseded by v3"}, format="json"
    )
    assert (
        closed.json()["state"] == "closed" and closed.json()["close_reason"] == "superseded by v3"
    )
    assert AuditEvent.objects.get(verb="request.closed").reason == "superseded by v3"


def test_one_open_request_per_version_and_stage(api_as, alice, iris):
    open_request(api_as(alice))
    again = open_request(api_as(alice))
    assert again.status_code == 400 and "Request #1 already asks for this move" in error(again)
    assert open_request(api_as(alice), version=9).status_code == 404


def test_the_list_filters_what_waits_for_me(api_as, alice, bob, people, iris):
    open_request(api_as(alice))
    open_request(api_as(alice), version=1, to_stage="staging")
    for_bob = api_as(bob).get("/api/v1/requests/?state=open&awaiting=me").json()["results"]
    assert [r["number"] for r in for_bob] == [2, 1]
    for_carol = api_as(people["carol"]).get("/api/v1/requests/?awaiting=me").json()["results"]
    assert [r["number"] for r in for_carol] == [2]  # production wants DevOps
    assert api_as(alice).get("/api/v1/requests/?awaiting=me").json()["results"] == []  # her own
    mine = api_as(alice).get("/api/v1/requests/?mine=true").json()["results"]
    assert [r["number"] for r in mine] == [2, 1]
    assert api_as(alice).get("/api/v1/requests/?state=nope").status_code == 400


def test_the_list_comes_in_pages_newest_first(api_as, alice, iris, django_assert_max_num_queries):
    client = api_as(alice)
    for _ in range(51):
        assert open_request(client).status_code == 201
        number = PromotionRequest.objects.get(state="open").number
        assert client.post(f"/api/v1/requests/{number}/withdraw/").status_code == 200
    open_request(client)

    with django_assert_max_num_queries(15):
        first = client.get("/api/v1/requests/?state=withdrawn").json()
    assert first["count"] == 51 and first["previous"] is None
    assert [r["number"] for r in first["results"]] == list(range(51, 1, -1))
    assert set(first["results"][0]) >= {"number", "state", "missing", "reviews", "url"}
    second = client.get(first["next"]).json()
    assert [r["number"] for r in second["results"]] == [1] and second["next"] is None
    assert client.get("/api/v1/requests/?state=withdrawn&page=3").status_code == 404
    assert client.get("/api/v1/requests/?page=x").status_code == 400
    waiting = client.get("/api/v1/requests/?state=&awaiting=me").json()  # alice: her own only
    assert (waiting["count"], waiting["results"]) == (0, [])
    anyone = client.get("/api/v1/requests/?state=").json()
    assert anyone["count"] == 52 and anyone["results"][0]["missing"] == ["needs 1 DevOps approval"]


def test_a_mention_in_the_opening_message_notifies_team_members_once(api_as, alice, bob, iris):
    opened = open_request(api_as(alice), message="@bob can you check? @bob @mallory and @alice")
    assert opened.status_code == 201

    mentions = Notification.objects.filter(event=Event.MENTION)
    assert [(m.recipient.username, m.url) for m in mentions] == [("bob", "/requests/1/#opening")]
    assert "alice mentioned you on request #1" in mentions.get().title


def test_notifications_reach_reviewers_and_the_author(api_as, reviewer, alice, bob, people, iris):
    open_request(api_as(alice))
    requested = Notification.objects.filter(event=Event.REVIEW_REQUESTED)
    assert [n.recipient.username for n in requested] == ["bob"]
    assert requested.get().dedupe_key == "request:1:opened"
    review(reviewer(bob), 1, "request_changes", "No")
    review(reviewer(bob), 1, "approve")
    told = Notification.objects.filter(recipient=alice).order_by("id")
    assert [n.event for n in told] == [Event.CHANGES_REQUESTED, Event.REVIEW_RECEIVED]


def test_direct_moves_to_staging_or_production_are_refused_archiving_is_not(api_as, bob, iris):
    devops = api_as(bob)
    refused = devops.post(f"{M}/versions/2/stage/", {"stage": "production"}, format="json")
    assert refused.status_code == 403
    assert "open a promotion request" in error(refused)
    archived = devops.post(f"{M}/versions/2/stage/", {"stage": "archived"}, format="json")
    assert archived.status_code == 200 and archived.json()["stage"] == "archived"


def test_an_emergency_rollback_is_recorded_and_announced_to_watchers(
    api_as, reviewer, alice, bob, people, iris, django_capture_on_commit_callbacks
):
    for number in (1, 2):
        open_request(api_as(alice), version=number)
        n = PromotionRequest.objects.get(version__number=number).number
        review(reviewer(bob), n, "approve")
        reviewer(bob).post(f"/api/v1/requests/{n}/merge/")
    Watch.objects.create(user=people["carol"], model=iris)
    Membership.objects.filter(user=alice).update(is_owner=False)
    ds = api_as(alice)
    assert (
        ds.post(
            f"{M}/versions/1/stage/", {"stage": "production", "reason": "x"}, format="json"
        ).status_code
        == 403
    )

    with django_capture_on_commit_callbacks(execute=True):  # watchers hear after the commit
        rolled = api_as(bob).post(
            f"{M}/versions/1/stage/",
            {"stage": "production", "reason": "v2 doubles false positives"},
            format="json",
        )

    assert rolled.status_code == 200
    event = AuditEvent.objects.get(verb="stage.rollback")
    assert (event.before, event.after, event.reason) == (
        {"production": 2},
        {"production": 1},
        "v2 doubles false positives",
    )
    announced = Notification.objects.get(event=Event.PROMOTION)  # once, not twice
    assert announced.recipient == people["carol"] and "rolled back to v1" in announced.title
    assert "v2 doubles false positives" in announced.body


def test_a_rollback_can_also_be_requested(api_as, reviewer, alice, bob, iris):
    for number in (1, 2):
        open_request(api_as(alice), version=number)
        n = PromotionRequest.objects.get(version__number=number).number
        review(reviewer(bob), n, "approve")
        reviewer(bob).post(f"/api/v1/requests/{n}/merge/")
    body = open_request(api_as(alice), version=1).json()
    assert body["kind"] == "rollback"


def test_create_token_makes_a_review_token_only_when_asked(bob):
    out = io.StringIO()
    call_command("create_token", "bob", "--scopes", "read,write,review", stdout=out)
    assert ApiToken.objects.get(user=bob).scopes == ["read", "review", "write"]
    call_command("create_token", "bob", "--scopes", "read,write", stdout=io.StringIO())
    assert ApiToken.objects.filter(user=bob, scopes__contains=["review"]).count() == 1

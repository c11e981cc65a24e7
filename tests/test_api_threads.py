"""Threads through the API: start, reply, edit with history, delete to a tombstone, resolve."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Membership, Role
from audit.models import AuditEvent
from discussions.models import Comment, CommentRevision, Thread

from .page_factories import pushed_version, registered_model

NAME = "fraud-detector"
THREADS = "/api/v1/threads/"


@pytest.fixture
def model(people, teams):
    model = registered_model(people["alice"], teams["fraud"], NAME)
    pushed_version(people["alice"], model)
    return model


def start(client, body="Shadow traffic looks fine.", anchor=f"model:{NAME}"):
    return client.post(THREADS, {"anchor": anchor, "body": body}, format="json")


def test_bob_starts_a_thread_and_carol_replies(api_as, people, model):
    bob, carol = api_as(people["bob"]), api_as(people["carol"])
    started = start(bob, "Ready for **staging**?")
    assert started.status_code == 201, started.content
    thread = started.json()
    assert thread["anchor"] == f"model:{NAME}" and thread["author"] == "bob"
    assert thread["resolved"] is False and thread["url"].endswith(f"{THREADS}{thread['id']}/")
    assert [c["body"] for c in thread["comments"]] == ["Ready for **staging**?"]

    replied = carol.post(f"{THREADS}{thread['id']}/comments/", {"body": "Yes."}, format="json")
    assert replied.status_code == 201
    assert replied.json()["author"] == "carol" and replied.json()["thread"] == thread["id"]

    listed = carol.get(THREADS, {"anchor": f"model:{NAME}"}).json()
    assert listed["count"] == 1
    assert [c["author"] for c in listed["results"][0]["comments"]] == ["bob", "carol"]
    detail = bob.get(f"{THREADS}{thread['id']}/").json()
    assert [c["body"] for c in detail["comments"]] == ["Ready for **staging**?", "Yes."]
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", "actor_name"))
    assert verbs[-2:] == [("thread.started", "bob"), ("comment.posted", "carol")]


def test_a_version_has_its_own_threads(api_as, people, model):
    client = api_as(people["bob"])
    assert start(client, "About v1.", anchor=f"version:{NAME}:1").status_code == 201
    assert start(client, "About the model.").status_code == 201
    on_version = client.get(THREADS, {"anchor": f"version:{NAME}:1"}).json()["results"]
    assert [t["comments"][0]["body"] for t in on_version] == ["About v1."]
    assert on_version[0]["anchor"] == f"version:{NAME}:1"
    assert client.get(THREADS, {"anchor": f"model:{NAME}"}).json()["count"] == 1


@pytest.mark.parametrize(
    "query, status, message",
    [
        ({}, 400, "Name the place"),
        ({"anchor": "fraud-detector"}, 400, "Unknown anchor"),
        ({"anchor": f"dataset:{NAME}"}, 400, "Unknown anchor"),
        ({"anchor": "model:no-such-model"}, 404, "No model"),
        ({"anchor": f"version:{NAME}:7"}, 404, "No version"),
        ({"anchor": f"version:{NAME}:x"}, 404, "No version"),
        ({"anchor": "model:"}, 404, "No model"),
    ],
)
def test_a_bad_anchor_is_refused_clearly(api_as, people, model, query, status, message):
    response = api_as(people["bob"]).get(THREADS, query)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def test_mallory_sees_no_thread_of_another_team(api_as, people, model):
    thread = start(api_as(people["bob"])).json()
    mallory = api_as(people["mallory"])
    assert mallory.get(THREADS, {"anchor": f"model:{NAME}"}).status_code == 404
    assert mallory.get(f"{THREADS}{thread['id']}/").status_code == 404
    assert start(mallory).status_code == 404
    reply = mallory.post(f"{THREADS}{thread['id']}/comments/", {"body": "hi"}, format="json")
    assert reply.status_code == 404
    assert Comment.objects.count() == 1


def test_a_token_limited_to_another_team_sees_nothing(people, teams, model):
    alice = people["alice"]
    Membership.objects.create(user=alice, team=teams["growth"], role=Role.DATA_SCIENTIST)
    _, plain = account_services.create_token(
        user=alice, name="growth", scopes=["read", "write"], team=teams["growth"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert client.get(THREADS, {"anchor": f"model:{NAME}"}).status_code == 404
    assert start(client).status_code == 404
    assert not Thread.objects.exists()


def test_a_read_only_token_reads_but_does_not_comment(api_as, people, model):
    start(api_as(people["bob"]))
    reader = api_as(people["alice"], "read")
    assert reader.get(THREADS, {"anchor": f"model:{NAME}"}).status_code == 200
    refused = start(reader)
    assert refused.status_code == 403 and "write scope" in refused.json()["error"]["message"]
    assert Thread.objects.count() == 1


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "cannot be empty"),
        ("  \n\t ", "cannot be empty"),
        ("x" * 20_001, "no more than 20000 characters"),
        (5, "Expected text, not an integer."),
        (None, "may not be null"),
    ],
)
def test_an_empty_or_too_long_body_is_a_400_and_stores_nothing(
    api_as, people, model, body, message
):
    client = api_as(people["bob"])
    response = start(client, body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert "body" in response.json()["error"]["detail"]
    assert not Thread.objects.exists() and not AuditEvent.objects.filter(verb="thread.started")


def test_a_body_of_exactly_the_limit_is_taken(api_as, people, model):
    client = api_as(people["bob"])
    assert start(client, "y" * 20_000).status_code == 201
    thread = Thread.objects.get()
    response = client.post(f"{THREADS}{thread.pk}/comments/", {"body": ""}, format="json")
    assert response.status_code == 400 and Comment.objects.count() == 1


def test_an_edit_keeps_the_earlier_text_and_is_marked(api_as, people, model):
    bob = api_as(people["bob"])
    thread = start(bob, "First words.").json()
    comment = thread["comments"][0]
    url = f"{THREADS}{thread['id']}/comments/{comment['id']}/"
    assert comment["edited"] is False and comment["edited_at"] is None

    edited = bob.patch(url, {"body": "Second words."}, format="json")
    assert edited.status_code == 200
    assert edited.json()["body"] == "Second words." and edited.json()["edited"] is True
    bob.patch(url, {"body": "Third words."}, format="json")
    bob.patch(url, {"body": "Third words."}, format="json")  # unchanged: no new revision

    revisions = bob.get(f"{url}revisions/").json()["results"]
    assert [r["body"] for r in revisions] == ["Second words.", "First words."]
    assert revisions[1]["written_at"] == comment["created_at"]
    assert AuditEvent.objects.filter(verb="comment.edited", actor_name="bob").count() == 2
    event = AuditEvent.objects.filter(verb="comment.edited").first()
    assert event.object_type == "comment" and event.model_name == NAME
    assert "words" not in str(event.before) + str(event.after)  # the log keeps no text


def test_only_the_author_edits_and_a_refusal_changes_nothing(api_as, people, model):
    thread = start(api_as(people["bob"]), "Bob's words.").json()
    url = f"{THREADS}{thread['id']}/comments/{thread['comments'][0]['id']}/"
    for who in ("alice", "carol", "victor"):
        response = api_as(people[who]).patch(url, {"body": "Not yours."}, format="json")
        assert response.status_code == 403, who
    assert api_as(people["mallory"]).patch(url, {"body": "x"}, format="json").status_code == 404
    assert Comment.objects.get().body == "Bob's words."
    assert not CommentRevision.objects.exists()
    assert not AuditEvent.objects.filter(verb="comment.edited").exists()


def test_a_deleted_comment_leaves_a_tombstone_and_no_text(api_as, people, model):
    bob = api_as(people["bob"])
    thread = start(bob, "Secret words.").json()
    url = f"{THREADS}{thread['id']}/comments/{thread['comments'][0]['id']}/"
    bob.patch(url, {"body": "Edited secret words."}, format="json")
    bob.post(f"{THREADS}{thread['id']}/comments/", {"body": "A reply."}, format="json")

    assert bob.delete(url).status_code == 204
    comments = bob.get(f"{THREADS}{thread['id']}/").json()["comments"]
    assert comments[0]["deleted"] is True and comments[0]["body"] == ""
    assert comments[0]["deleted_by"] == "bob" and comments[0]["author"] == "bob"
    assert comments[1]["body"] == "A reply."
    assert not CommentRevision.objects.exists()
    assert bob.get(f"{url}revisions/").status_code == 404
    assert bob.patch(url, {"body": "Back again."}, format="json").status_code == 404
    assert bob.delete(url).status_code == 404
    assert AuditEvent.objects.filter(verb="comment.deleted", actor_name="bob").count() == 1


def test_the_owner_deletes_anyones_comment_others_may_not(api_as, people, model):
    thread = start(api_as(people["bob"]), "Bob's words.").json()
    url = f"{THREADS}{thread['id']}/comments/{thread['comments'][0]['id']}/"
    assert api_as(people["carol"]).delete(url).status_code == 403
    assert api_as(people["victor"]).delete(url).status_code == 403
    assert Comment.objects.get().deleted_at is None
    assert api_as(people["alice"]).delete(url).status_code == 204
    assert Comment.objects.get().deleted_by == people["alice"]


def test_a_comment_of_another_thread_is_not_found_under_this_one(api_as, people, model):
    bob = api_as(people["bob"])
    first, second = start(bob, "One.").json(), start(bob, "Two.").json()
    url = f"{THREADS}{first['id']}/comments/{second['comments'][0]['id']}/"
    assert bob.patch(url, {"body": "moved"}, format="json").status_code == 404


def test_resolve_and_reopen_are_recorded_once(api_as, people, model):
    bob, carol = api_as(people["bob"]), api_as(people["carol"])
    thread = start(bob).json()
    resolved = carol.post(f"{THREADS}{thread['id']}/resolve/")
    assert resolved.status_code == 200
    assert resolved.json()["resolved"] is True and resolved.json()["resolved_by"] == "carol"
    assert carol.post(f"{THREADS}{thread['id']}/resolve/").json()["resolved_by"] == "carol"
    assert AuditEvent.objects.filter(verb="thread.resolved").count() == 1

    victor = api_as(people["victor"])
    assert victor.post(f"{THREADS}{thread['id']}/reopen/").status_code == 403
    reopened = bob.post(f"{THREADS}{thread['id']}/reopen/")
    assert reopened.json()["resolved"] is False and reopened.json()["resolved_by"] is None
    assert AuditEvent.objects.filter(verb="thread.reopened", actor_name="bob").count() == 1


def test_a_ci_token_with_the_write_scope_may_comment(api_as, people, model):
    ci = api_as(people["alice"], "read,write")
    assert start(ci, "Pushed v2 from CI; metrics attached.").status_code == 201
    event = AuditEvent.objects.get(verb="thread.started")
    assert event.channel == "api" and event.token_name == "ci"


def test_mentionable_lists_team_members_by_prefix(api_as, people, model):
    bob = api_as(people["bob"])
    url = f"{THREADS}mentionable/"
    everyone = bob.get(url, {"anchor": f"model:{NAME}"}).json()
    assert [p["username"] for p in everyone] == ["alice", "bob", "carol", "victor"]
    found = bob.get(url, {"anchor": f"model:{NAME}", "prefix": "CA"}).json()
    assert [p["username"] for p in found] == ["carol"]
    assert bob.get(url, {"anchor": f"model:{NAME}", "prefix": "mal"}).json() == []
    assert api_as(people["mallory"]).get(url, {"anchor": f"model:{NAME}"}).status_code == 404
    assert bob.get(url).status_code == 400


def test_listing_threads_takes_the_same_queries_for_2_or_12_threads(api_as, people, model):
    client = api_as(people["bob"])

    def add_threads(count):
        for number in range(count):
            thread = start(client, f"Thread {number}").json()
            for reply in range(3):
                client.post(
                    f"{THREADS}{thread['id']}/comments/", {"body": f"r{reply}"}, format="json"
                )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(THREADS, {"anchor": f"model:{NAME}"})
        assert response.status_code == 200
        return len(captured)

    add_threads(2)
    few = queries()
    add_threads(10)
    assert queries() == few


def test_a_retried_post_makes_one_comment(api_as, people, model):
    client = api_as(people["bob"])
    thread = start(client, "From CI: v2 pushed.").json()
    again = start(client, "From CI: v2 pushed.")
    assert again.status_code == 400 and "not posted again" in again.json()["error"]["message"]
    url = f"{THREADS}{thread['id']}/comments/"
    assert client.post(url, {"body": "Metrics attached."}, format="json").status_code == 201
    assert client.post(url, {"body": "Metrics attached."}, format="json").status_code == 400
    assert Thread.objects.count() == 1 and Comment.objects.count() == 2

"""Mentions and replies reach the right people exactly once (in the inbox and the outbox)."""

import pytest

from notifications.models import Event, Notification, OutboxEmail

from .page_factories import pushed_version, registered_model

NAME = "fraud-detector"


@pytest.fixture
def model(people, teams):
    model = registered_model(people["alice"], teams["fraud"], NAME)
    pushed_version(people["alice"], model)
    return model


def told(event) -> list[str]:
    return sorted(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    )


def emailed(event_word: str) -> list[str]:
    return sorted(
        OutboxEmail.objects.filter(subject__contains=event_word).values_list(
            "recipient__username", flat=True
        )
    )


def start(client, body):
    response = client.post(
        "/api/v1/threads/", {"anchor": f"model:{NAME}", "body": body}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_mention_tells_team_members_once_and_no_one_else(api_as, people, model):
    start(
        api_as(people["bob"]),
        "@carol and @victor, have a look. @carol again. @mallory @nobody @bob "
        "`@alice` is code, mail alice@example.com",
    )
    assert told(Event.MENTION) == ["carol", "victor"]
    assert emailed("mentioned you") == ["carol", "victor"]
    note = Notification.objects.get(recipient=people["carol"])
    assert note.title == f"bob mentioned you on {NAME}"
    assert note.url.startswith(f"/models/{NAME}/#comment-")
    assert note.actor == people["bob"] and note.model == model


def test_a_reply_tells_everyone_in_the_thread_but_its_author(api_as, people, model):
    thread = start(api_as(people["bob"]), "Is v1 ready?")
    url = f"/api/v1/threads/{thread['id']}/comments/"
    api_as(people["carol"]).post(url, {"body": "Looks fine."}, format="json")
    assert told(Event.REPLY) == ["bob"]
    api_as(people["alice"]).post(url, {"body": "Agreed."}, format="json")
    assert told(Event.REPLY) == ["bob", "bob", "carol"]  # one per reply
    assert Notification.objects.filter(recipient=people["alice"]).count() == 0
    assert OutboxEmail.objects.filter(recipient=people["bob"]).count() == 2


def test_a_mentioned_participant_hears_of_the_mention_only(api_as, people, model):
    thread = start(api_as(people["bob"]), "Is v1 ready?")
    api_as(people["carol"]).post(
        f"/api/v1/threads/{thread['id']}/comments/", {"body": "@bob yes."}, format="json"
    )
    assert told(Event.MENTION) == ["bob"] and told(Event.REPLY) == []


def test_an_edit_tells_only_the_newly_mentioned(api_as, people, model):
    bob = api_as(people["bob"])
    thread = start(bob, "@carol please look.")
    url = f"/api/v1/threads/{thread['id']}/comments/{thread['comments'][0]['id']}/"
    bob.patch(url, {"body": "@carol and @victor please look."}, format="json")
    assert told(Event.MENTION) == ["carol", "victor"]
    bob.patch(url, {"body": "@victor please look."}, format="json")
    bob.patch(url, {"body": "@victor and @carol, please."}, format="json")
    bob.patch(url, {"body": "@victor and @carol and @alice, please."}, format="json")
    assert told(Event.MENTION) == ["alice", "carol", "victor"]
    assert OutboxEmail.objects.filter(recipient=people["carol"]).count() == 1


def test_a_refused_comment_tells_no_one(api_as, people, model):
    response = api_as(people["victor"]).post(
        "/api/v1/threads/", {"anchor": f"model:{NAME}", "body": "@carol hi"}, format="json"
    )
    assert response.status_code == 403
    assert not Notification.objects.exists() and not OutboxEmail.objects.exists()

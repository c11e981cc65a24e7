"""The inbox and the preferences through the API: your own notifications only, never another's."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from notifications.models import Event, Notification, Preference
from notifications.services import notify
from tests.page_factories import registered_model

N = "/api/v1/notifications/"


@pytest.fixture
def model(alice, teams):
    return registered_model(alice, teams["fraud"])


def tell(person, model, count=1, event=Event.MENTION, actor=None) -> list[int]:
    with transaction.atomic():
        for number in range(count):
            notify(
                event=event,
                recipients=[person],
                actor=actor,
                model=model,
                title=f"{event} {number}",
                body="",
                url=f"/models/{model.name}/",
                dedupe_key=f"{event}:{person.pk}:{number}",
            )
    return list(
        Notification.objects.filter(recipient=person).order_by("id").values_list("pk", flat=True)
    )


def test_the_list_is_paginated_newest_first_and_filters_unread(api_as, model, alice, bob):
    ids = tell(bob, model, count=3, actor=alice)
    Notification.objects.filter(pk=ids[0]).update(read_at="2026-01-01T00:00:00Z")
    client = api_as(bob)

    page = client.get(N).json()
    assert page["count"] == 3 and page["next"] is None
    assert [line["id"] for line in page["results"]] == ids[::-1]
    first = page["results"][0]
    assert first["event"] == "mention" and first["model"] == "fraud-detector"
    assert first["actor"] == "alice" and first["unread"] is True
    assert first["url"] == "http://testserver/models/fraud-detector/"

    unread = client.get(N, {"unread": "true"}).json()
    assert [line["id"] for line in unread["results"]] == ids[:0:-1]
    assert client.get(N, {"unread": "false"}).json()["count"] == 3
    assert client.get(N, {"unread": "maybe"}).status_code == 400


def test_marking_some_or_all_read(api_as, model, bob):
    ids = tell(bob, model, count=3)
    client = api_as(bob)
    answer = client.post(f"{N}read/", {"ids": ids[:2]}, format="json")
    assert answer.status_code == 200 and answer.json() == {"marked": 2, "unread": 1}
    assert client.post(f"{N}read/", {"ids": ids[:2]}, format="json").json()["marked"] == 0
    assert client.post(f"{N}read/", {"all": True}, format="json").json() == {
        "marked": 1,
        "unread": 0,
    }
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_nobody_reads_or_marks_another_persons_notifications(api_as, model, bob, people):
    [bobs] = tell(bob, model)
    carols = tell(people["carol"], model)
    carol = api_as(people["carol"])
    assert [line["id"] for line in carol.get(N).json()["results"]] == carols
    answer = carol.post(f"{N}read/", {"ids": [*carols, bobs]}, format="json")
    assert answer.status_code == 404
    assert str(bobs) in answer.json()["error"]["message"]
    assert Notification.objects.filter(read_at__isnull=True).count() == 2  # not even carol's
    carol.post(f"{N}read/", {"all": True}, format="json")
    assert Notification.objects.get(pk=bobs).read_at is None


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": [1], "all": True}, {"all": False}, {"ids": ["1"]}, {"all": "yes"}],
)
def test_a_read_request_must_name_ids_or_all(api_as, model, bob, body):
    tell(bob, model)
    answer = api_as(bob).post(f"{N}read/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert Notification.objects.get().read_at is None


def test_a_read_only_token_cannot_mark(api_as, model, bob):
    tell(bob, model)
    client = api_as(bob, scopes="read")
    assert client.get(N).status_code == 200
    assert client.post(f"{N}read/", {"all": True}, format="json").status_code == 403


def test_notifications_of_a_model_you_no_longer_see_are_hidden(api_as, model, people):
    victor = people["victor"]
    tell(victor, model)
    victor.memberships.all().delete()
    assert api_as(victor).get(N).json()["count"] == 0


def test_preferences_are_read_and_changed_with_the_change_audited(api_as, bob):
    client = api_as(bob)
    grid = client.get(f"{N}preferences/").json()["preferences"]
    assert [row["event"] for row in grid] == Event.values
    assert all(row["in_app"] and row["email"] for row in grid)
    assert grid[0]["description"] == "A review is requested from my role"

    answer = client.put(
        f"{N}preferences/",
        {"preferences": [{"event": "reply", "email": False}, {"event": "promotion"}]},
        format="json",
    )
    assert answer.status_code == 200
    rows = {row["event"]: row for row in answer.json()["preferences"]}
    assert (rows["reply"]["in_app"], rows["reply"]["email"]) == (True, False)
    assert Preference.objects.filter(user=bob).count() == 1  # "promotion" changed nothing
    event = AuditEvent.objects.get(verb="preferences.changed")
    assert event.actor_name == "bob" and event.channel == "api"
    assert event.before == {"reply": {"in_app": True, "email": True}}
    assert event.after == {"reply": {"in_app": True, "email": False}}

    client.put(f"{N}preferences/", {"preferences": [{"event": "reply", "email": False}]})
    assert AuditEvent.objects.filter(verb="preferences.changed").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"preferences": [{"event": "weather", "email": False}]},
        {"preferences": [{"event": "reply", "email": "no"}]},
        {"preferences": [{"event": "reply"}, {"event": "reply", "email": False}]},
        {"preferences": {"event": "reply"}},
        {},
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(api_as, bob, body):
    answer = api_as(bob).put(f"{N}preferences/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert not Preference.objects.exists()
    assert not AuditEvent.objects.filter(verb="preferences.changed").exists()

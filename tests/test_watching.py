"""Watching a model (API and page): its watchers hear of each promotion and rollback, once."""

import pytest
from django.apps import apps

from audit.models import AuditEvent
from notifications.models import Event, Notification, OutboxEmail, Watch
from registry.panels import unregister_panel
from tests.page_factories import (
    assert_strict_page,
    count_queries,
    pushed_version,
    registered_model,
)
from tests.promotions import promote

W = "/api/v1/models/fraud-detector/watch/"


@pytest.fixture
def versions(alice, teams):
    model = registered_model(alice, teams["fraud"])
    return [pushed_version(alice, model) for _ in range(2)]


def move(client, number, stage, **extra):
    return client.post(
        f"/api/v1/models/fraud-detector/versions/{number}/stage/",
        {"stage": stage, **extra},
        format="json",
    )


def promotions_of(person) -> list[str]:
    return list(
        Notification.objects.filter(recipient=person, event=Event.PROMOTION)
        .order_by("id")
        .values_list("title", flat=True)
    )


def test_watching_through_the_api(api_as, versions, people):
    carol = api_as(people["carol"])
    assert carol.get(W).json() == {"model": "fraud-detector", "watching": False, "watchers": 0}
    assert carol.post(W).json() == {"model": "fraud-detector", "watching": True, "watchers": 1}
    assert carol.post(W).json()["watchers"] == 1  # watching twice is watching
    event = AuditEvent.objects.get(verb="preferences.changed")
    assert (event.actor_name, event.model_name, event.after) == (
        "carol",
        "fraud-detector",
        {"watching": True},
    )
    assert carol.delete(W).status_code == 204
    assert carol.get(W).json()["watching"] is False
    assert AuditEvent.objects.filter(verb="preferences.changed").count() == 2


def test_a_model_you_cannot_see_cannot_be_watched(api_as, versions, people, client):
    mallory = api_as(people["mallory"])
    for answer in (mallory.get(W), mallory.post(W), mallory.delete(W)):
        assert answer.status_code == 404
    client.force_login(people["mallory"])
    assert client.post("/models/fraud-detector/watch/", {"watch": "true"}).status_code == 404
    assert not Watch.objects.exists()


def test_watchers_hear_of_promotions_and_rollbacks_but_not_the_one_who_moved(
    api_as, versions, people, django_capture_on_commit_callbacks
):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    for person in (alice, bob, carol):
        assert api_as(person).post(W).status_code == 200
    devops = api_as(bob)
    first, second = versions
    with django_capture_on_commit_callbacks(execute=True):
        promote(first, "staging", author=alice, approver=bob)
        promote(first, "production", author=alice, approver=bob)
        promote(second, "production", author=alice, approver=bob)  # v1 archived
        rollback = move(devops, 1, "production", reason="v2 doubles false positives")
        assert rollback.status_code == 200  # an emergency rollback, straight away
        assert move(devops, 2, "none").status_code == 200  # leaving a stage: nothing to tell

    expected = [
        "fraud-detector v1 is now in staging",
        "fraud-detector v1 is now in production",
        "fraud-detector v2 is now in production",
        "fraud-detector rolled back to v1 in production",
    ]
    assert promotions_of(alice) == expected
    assert promotions_of(carol) == expected
    assert promotions_of(bob) == []
    lines = Notification.objects.filter(recipient=carol, event=Event.PROMOTION).order_by("id")
    assert lines[1].url == "/models/fraud-detector/versions/1/"
    assert lines[1].body == "By bob. Reason: promotion request #2"
    assert lines[3].body == "By bob. Reason: v2 doubles false positives"
    assert lines[1].actor == bob
    keys = set(
        OutboxEmail.objects.filter(recipient=carol, subject__contains="fraud-detector")
        .exclude(subject__contains="Review requested")
        .values_list("dedupe_key", flat=True)
    )
    assert len(keys) == 4 and all(key.startswith("stage:") for key in keys)


def test_a_watcher_who_left_the_team_hears_nothing(
    api_as, versions, people, django_capture_on_commit_callbacks
):
    victor = people["victor"]
    assert api_as(victor).post(W).status_code == 200
    victor.memberships.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        promote(versions[0], "staging", author=people["alice"], approver=people["bob"])
    assert promotions_of(victor) == []


def test_the_model_page_has_a_watch_button_that_works_without_javascript(client, versions, people):
    client.force_login(people["carol"])
    page = client.get("/models/fraud-detector/")
    assert_strict_page(page)
    html = page.content.decode()
    assert 'id="watch-panel"' in html and ">Watch</button>" in html and "0 watching" in html
    assert "or one of its monitors alerts." in html  # watchers hear of its alerts too

    answer = client.post("/models/fraud-detector/watch/", {"watch": "true"})
    assert answer.status_code == 302 and answer["Location"] == "/models/fraud-detector/"
    html = client.get(answer["Location"]).content.decode()
    assert ">Unwatch</button>" in html and "You now watch fraud-detector" in html

    client.post("/models/fraud-detector/watch/", {"watch": "false"})
    assert not Watch.objects.exists()


def test_the_watch_button_swaps_only_its_panel_with_htmx(client, versions, people):
    client.force_login(people["carol"])
    answer = client.post(
        "/models/fraud-detector/watch/", {"watch": "true"}, headers={"HX-Request": "true"}
    )
    html = answer.content.decode()
    assert answer.status_code == 200 and html.lstrip().startswith('<section class="card" id="watch')
    assert ">Unwatch</button>" in html and "1 watching" in html
    assert Watch.objects.filter(user=people["carol"]).exists()


def test_the_watch_panel_costs_the_model_page_one_query(client, versions, people):
    client.force_login(people["carol"])
    unregister_panel("model", "watch")
    try:
        without = count_queries(client, "/models/fraud-detector/")
    finally:
        apps.get_app_config("notifications").ready()  # registers the panel again
    assert count_queries(client, "/models/fraud-detector/") == without + 1

"""The reviewer's home: unread mentions, recent activity on watched models, query counts."""

import pytest

from notifications import services as notification_services
from notifications.models import Notification
from registry.models import ModelVersion
from reviews import services

from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model


@pytest.fixture
def iris(alice, teams):
    model = registered_model(alice, teams["fraud"], "iris")
    pushed_version(alice, model, metrics={"accuracy": 0.95})
    return model


def _open(alice):
    version = ModelVersion.objects.select_related("model__team").get(model__name="iris")
    return services.open_request(actor=alice, version=version, to_stage="production")


def _section(html: str, heading: str) -> str:
    start = html.index(f'id="{heading}-heading"')
    return html[start : html.index("</section>", start)]


def test_unread_mentions_are_listed_and_marked_read_without_javascript(client, alice, bob, iris):
    _open(alice)
    client.force_login(alice)
    client.post("/threads/", {"anchor": "request:1", "body": "@bob can you look?"})
    client.force_login(bob)

    mentions = _section(client.get("/home/").content.decode(), "mentions")

    line = Notification.objects.get(recipient=bob, event="mention")
    assert "alice mentioned you on Request #1: iris v1 → production" in mentions
    assert f'href="{line.url}"' in mentions
    marked = client.post(f"/notifications/{line.pk}/read/", {"next": "/home/"})
    assert marked.status_code == 302 and marked["Location"] == "/home/"
    assert "Nobody mentioned you" in _section(client.get("/home/").content.decode(), "mentions")


def test_mark_read_with_htmx_answers_the_line(client, alice, bob, iris):
    _open(alice)
    client.force_login(alice)
    client.post("/threads/", {"anchor": "request:1", "body": "@bob look"})
    client.force_login(bob)
    line = Notification.objects.get(recipient=bob, event="mention")
    assert f'hx-target="#notification-{line.pk}"' in client.get("/home/").content.decode()
    answer = client.post(f"/notifications/{line.pk}/read/", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "inbox-line--unread" not in answer.content.decode()


def test_activity_on_watched_models_reads_as_words_with_links(client, alice, bob, people, iris):
    other = registered_model(alice, iris.team, "unwatched")
    pushed_version(alice, other)
    notification_services.set_watching(actor=bob, model=iris, watching=True)
    _open(alice)
    client.force_login(bob)

    page = client.get("/home/")

    assert_strict_page(page)
    activity = _section(page.content.decode(), "activity")
    assert "<strong>alice</strong>" in activity and 'href="/requests/1/"' in activity
    assert "opened a promotion request" in activity
    assert 'href="/models/iris/history/"' in activity
    assert "unwatched" not in activity
    client.force_login(people["carol"])
    assert "Nothing yet" in _section(client.get("/home/").content.decode(), "activity")


def test_home_makes_a_constant_number_of_queries(client, alice, bob, iris):
    notification_services.set_watching(actor=bob, model=iris, watching=True)
    _open(alice)
    client.force_login(alice)
    client.post("/threads/", {"anchor": "request:1", "body": "@bob one"})
    client.force_login(bob)
    few = count_queries(client, "/home/")

    client.force_login(alice)
    for n in range(10):
        client.post("/threads/", {"anchor": "request:1", "body": f"@bob number {n}"})
    client.force_login(bob)
    html = client.get("/home/").content.decode()
    assert _section(html, "mentions").count("inbox-line--unread") == 11
    assert count_queries(client, "/home/") == few

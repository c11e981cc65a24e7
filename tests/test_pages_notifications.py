"""The inbox page, the nav's unread count and the notification settings page."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from notifications.models import Event, Notification, Preference
from notifications.services import notify
from tests.page_factories import assert_strict_page, count_queries, registered_model

HTMX = {"HX-Request": "true"}


@pytest.fixture
def model(alice, teams):
    return registered_model(alice, teams["fraud"])


def tell(person, model, count=1, actor=None) -> list[Notification]:
    with transaction.atomic():
        for number in range(count):
            notify(
                event=Event.MENTION,
                recipients=[person],
                actor=actor,
                model=model,
                title=f"alice mentioned you <b>{number}</b>",
                body="See the thresholds.",
                url=f"/models/{model.name}/",
                dedupe_key=f"mention:{person.pk}:{number}",
            )
    return list(Notification.objects.filter(recipient=person).order_by("id"))


def unread_badge(html: str) -> str | None:
    found = re.search(r'<span class="nav-count">(\d+)<', html)
    return found.group(1) if found else None


def test_the_inbox_lists_lines_linking_to_their_place_with_unread_ones_highlighted(
    client, model, alice, bob
):
    first, second = tell(bob, model, count=2, actor=alice)
    Notification.objects.filter(pk=first.pk).update(read_at="2026-01-01T00:00:00Z")
    client.force_login(bob)
    page = client.get("/notifications/")
    assert_strict_page(page)
    html = page.content.decode()
    assert f'class="inbox-line inbox-line--unread" id="notification-{second.pk}"' in html
    assert f'class="inbox-line" id="notification-{first.pk}"' in html
    assert 'href="/models/fraud-detector/"' in html
    assert "alice mentioned you &lt;b&gt;1&lt;/b&gt;" in html  # titles are text, not markup
    assert unread_badge(html) == "1"

    unread_only = client.get("/notifications/?unread=1").content.decode()
    assert f"notification-{second.pk}" in unread_only
    assert f"notification-{first.pk}" not in unread_only


def test_the_inbox_costs_the_same_few_queries_however_long_it_is(client, model, bob):
    client.force_login(bob)
    tell(bob, model, count=2)
    few = count_queries(client, "/notifications/")
    tell(bob, model, count=40)
    assert count_queries(client, "/notifications/") == few <= 5


def test_the_nav_counts_unread_notifications_in_one_query_on_every_page(client, model, bob):
    tell(bob, model, count=3)
    client.force_login(bob)
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/").content.decode()
    assert unread_badge(html) == "3"
    assert len([q for q in queries if "notifications_notification" in q["sql"]]) == 1


def test_marking_one_read_without_javascript(client, model, bob):
    [line] = tell(bob, model)
    client.force_login(bob)
    answer = client.post(f"/notifications/{line.pk}/read/", {"next": "/notifications/?page=1"})
    assert answer.status_code == 302 and answer["Location"] == "/notifications/?page=1"
    line.refresh_from_db()
    assert line.read_at is not None
    assert unread_badge(client.get("/notifications/").content.decode()) is None


def test_marking_one_read_with_htmx_swaps_the_line_and_the_count(client, model, bob):
    lines = tell(bob, model, count=2)
    client.force_login(bob)
    answer = client.post(f"/notifications/{lines[0].pk}/read/", headers=HTMX)
    html = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in html
    assert f'<li class="inbox-line" id="notification-{lines[0].pk}"' in html
    assert '<span id="unread-count" hx-swap-oob="true">' in html and unread_badge(html) == "1"


def test_marking_all_read_with_and_without_htmx(client, model, bob):
    tell(bob, model, count=3)
    client.force_login(bob)
    answer = client.post("/notifications/read/?unread=1", headers=HTMX)
    html = answer.content.decode()
    assert '<section class="card" id="inbox"' in html and "Nothing unread" in html
    assert '<span id="unread-count" hx-swap-oob="true"></span>' in html
    assert not Notification.objects.filter(read_at__isnull=True).exists()

    tell(bob, model, count=5)  # 0-2 exist: two new ones
    answer = client.post("/notifications/read/", follow=True)
    assert "Marked 2 notifications read." in answer.content.decode()


def test_nobody_sees_or_marks_another_persons_notifications(client, model, bob, people):
    [bobs] = tell(bob, model)
    client.force_login(people["carol"])
    assert f"notification-{bobs.pk}" not in client.get("/notifications/").content.decode()
    assert client.post(f"/notifications/{bobs.pk}/read/").status_code == 404
    assert client.post(f"/notifications/{bobs.pk}/read/", headers=HTMX).status_code == 404
    client.post("/notifications/read/")
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_the_settings_page_is_a_grid_of_events_and_channels(client, bob, model):
    client.force_login(bob)
    page = client.get("/settings/notifications/")
    assert_strict_page(page)
    html = page.content.decode()
    for event in Event.values:
        for channel in ("in_app", "email"):
            assert re.search(rf'name="{event}__{channel}"[^>]* checked', html), (event, channel)
    assert "bob@example.com" in html


def test_saving_settings_stores_and_audits_only_what_changed(client, bob, model, people):
    client.force_login(bob)
    everything_on = {f"{e}__{c}": "on" for e in Event.values for c in ("in_app", "email")}
    answer = client.post("/settings/notifications/", everything_on)
    assert answer.status_code == 302
    assert not AuditEvent.objects.filter(verb="preferences.changed").exists()

    without = {k: v for k, v in everything_on.items() if k != "promotion__email"}
    answer = client.post("/settings/notifications/", without, follow=True)
    assert "Saved your notification settings." in answer.content.decode()
    assert list(Preference.objects.values_list("event", "in_app", "email")) == [
        ("promotion", True, False)
    ]
    event = AuditEvent.objects.get(verb="preferences.changed")
    assert event.channel == "web" and event.after == {"promotion": {"in_app": True, "email": False}}
    html = client.get("/settings/notifications/").content.decode()
    assert not re.search(r'name="promotion__email"[^>]* checked', html)


def test_the_settings_page_lists_the_models_you_watch(client, api_as, bob, model):
    api_as(bob).post("/api/v1/models/fraud-detector/watch/")
    client.force_login(bob)
    html = client.get("/settings/notifications/").content.decode()
    assert '<a href="/models/fraud-detector/">fraud-detector</a>' in html

"""No one edits or deletes the audit log: not in the pages, the API, the admin, through the ORM,
nor in SQL on PostgreSQL."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditEvent, AuditLogIsAppendOnly

from .audit_events import logged
from .page_factories import registered_model


@pytest.fixture
def an_event(alice, teams):
    [event] = logged(
        team=teams["fraud"], model="fraud-detector", actor=alice, verb="comment.posted"
    )
    return event


def unchanged(event) -> bool:
    stored = AuditEvent.objects.get(pk=event.pk)
    return (stored.verb, stored.object_name, stored.reason) == (
        "comment.posted",
        event.object_name,
        "",
    )


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-123456")


# --- the admin ------------------------------------------------------------------------------


def test_the_admin_gives_even_a_superuser_no_add_change_or_delete(client, root, an_event):
    client.force_login(root)
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "/admin/audit/auditevent/add/" not in html
    assert 'name="action"' not in html  # no bulk action, "delete selected" included
    assert client.get("/admin/audit/auditevent/add/").status_code == 403

    change = f"/admin/audit/auditevent/{an_event.pk}/change/"
    shown = client.get(change)
    assert shown.status_code == 200  # to read, every field read-only
    page = shown.content.decode()
    assert "comment.posted" in page
    assert not re.search(r'<(input|textarea|select)[^>]*name="(verb|object_name|reason)"', page)
    assert 'name="_save"' not in page and "/delete/" not in page
    assert client.post(change, {"verb": "nothing.happened"}).status_code == 403

    delete = f"/admin/audit/auditevent/{an_event.pk}/delete/"
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    client.post(
        "/admin/audit/auditevent/",
        {"action": "delete_selected", "_selected_action": [an_event.pk], "post": "yes"},
    )
    assert unchanged(an_event)


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/audit/", "/api/v1/audit/?format=csv"])
def test_the_api_has_no_method_that_writes(api_as, alice, an_event, method, path):
    answer = getattr(api_as(alice), method)(path, {"verb": "nothing.happened"}, format="json")
    assert answer.status_code == 405
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in answer["Allow"] and "POST" not in answer["Allow"]
    assert unchanged(an_event)


def test_the_api_has_no_address_for_one_event(api_as, alice, an_event):
    for method in ("get", "put", "patch", "delete"):
        answer = getattr(api_as(alice), method)(f"/api/v1/audit/{an_event.pk}/")
        assert answer.status_code == 404 and "error" in answer.json()
    assert unchanged(an_event)


# --- the pages ------------------------------------------------------------------------------


def test_the_pages_take_no_post_and_offer_no_form_that_writes(client, alice, teams, an_event):
    registered_model(alice, teams["fraud"], "fraud-detector")
    client.force_login(alice)
    for url in ("/audit/", "/models/fraud-detector/history/"):
        assert client.post(url, {"verb": "nothing.happened"}).status_code == 405
        html = client.get(url).content.decode()
        posts = [form for form in re.findall(r"<form[^>]*>", html) if "post" in form.lower()]
        assert posts == ['<form method="post" action="/accounts/logout/">'], url
    assert unchanged(an_event)


# --- the ORM --------------------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_an_event(an_event):
    an_event.verb = "nothing.happened"
    with pytest.raises(AuditLogIsAppendOnly):
        an_event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        an_event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=an_event.pk).update(verb="nothing.happened")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=an_event.pk).delete()
    with pytest.raises(AuditLogIsAppendOnly), transaction.atomic():  # bulk_update's own
        AuditEvent.objects.bulk_update([an_event], ["verb"])
    assert unchanged(an_event)


def test_the_manager_django_uses_behind_the_scenes_refuses_too(an_event):
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent._base_manager.filter(pk=an_event.pk).delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent._base_manager.filter(pk=an_event.pk).update(verb="nothing.happened")
    assert unchanged(an_event)


def test_a_new_event_with_an_existing_id_is_inserted_or_refused_never_an_update(an_event):
    impostor = AuditEvent(pk=an_event.pk, verb="nothing.happened", channel="web")
    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()
    assert unchanged(an_event)


# --- SQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET verb = 'nothing.happened' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "TRUNCATE audit_auditevent",
        "TRUNCATE audit_auditevent RESTART IDENTITY CASCADE",
    ],
)
def test_postgresql_itself_refuses_update_delete_and_truncate(needs_postgres, an_event, sql):
    operation = sql.split()[0]
    with pytest.raises(DatabaseError, match=f"append-only: {operation} refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [an_event.pk] if "%s" in sql else None)
    assert unchanged(an_event)

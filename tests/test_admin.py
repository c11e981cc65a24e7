"""The Django admin as an administrator meets it: tokens revoked and models deleted through the
services (so the audit log has them and storage is emptied), and staff without rights kept out."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.storage import storages
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken
from audit.models import AuditEvent
from notifications.models import EmailStatus, OutboxEmail
from registry.models import Artifact, ModelVersion, RegisteredModel

from .page_factories import PASSWORD, pushed_version, registered_model

TOKENS = "/admin/accounts/apitoken/"
MODELS = "/admin/registry/registeredmodel/"
VERSIONS = "/admin/registry/modelversion/"


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def staff(db):
    """In the admin, with no permission yet."""
    return User.objects.create_user("sam", "sam@example.com", PASSWORD, is_staff=True)


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


@pytest.fixture
def alices_token(alice, teams):
    token, plain = account_services.create_token(
        user=alice, name="nightly-retraining-job", scopes=["read"], team=teams["fraud"]
    )
    return token, plain


@pytest.fixture
def model(alice, teams):
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    pushed_version(alice, model, files=[("model.pkl", b"weights"), ("README.md", b"# fraud")])
    pushed_version(alice, model, files=[("model.pkl", b"better weights")])
    return model


def works(plain: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client.get("/api/v1/models/").status_code == 200


def test_tokens_are_listed_with_owner_team_and_scopes_but_never_their_hash(
    client, root, alices_token
):
    token, _ = alices_token
    client.force_login(root)
    listing = client.get(TOKENS).content.decode()
    assert "nightly-retraining-job" in listing and "alice" in listing and "Fraud" in listing
    page = client.get(f"{TOKENS}{token.pk}/change/").content.decode()
    assert token.prefix in page
    assert token.secret_sha256 not in listing + page
    assert 'name="name"' not in page  # shown, not editable
    assert client.get(f"{TOKENS}add/").status_code == 403
    assert client.get(f"{TOKENS}{token.pk}/delete/").status_code == 403


def test_an_administrator_revokes_a_token_and_the_audit_log_names_them(client, root, alices_token):
    token, plain = alices_token
    client.force_login(root)
    response = client.post(TOKENS, {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not works(plain)
    event = AuditEvent.objects.get(verb="token.revoked")
    assert (event.actor_name, event.object_id) == ("root", str(token.pk))


def test_staff_without_the_permission_cannot_see_or_revoke_tokens(client, staff, alices_token):
    token, plain = alices_token
    client.force_login(staff)
    assert client.get(TOKENS).status_code == 403
    client.post(TOKENS, {"action": "revoke", "_selected_action": [token.pk]})
    grant(staff, "view_apitoken")
    assert client.get(TOKENS).status_code == 200
    client.post(TOKENS, {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert works(plain)
    assert not AuditEvent.objects.filter(verb="token.revoked").exists()


def test_models_and_versions_are_shown_read_only(client, root, model):
    client.force_login(root)
    assert "fraud-detector" in client.get(MODELS).content.decode()
    assert "fraud-detector v2" in client.get(VERSIONS).content.decode()
    page = client.get(f"{MODELS}{model.pk}/change/").content.decode()
    assert 'name="description"' not in page
    version = model.versions.get(number=1)
    assert 'name="stage"' not in client.get(f"{VERSIONS}{version.pk}/change/").content.decode()
    for path in (f"{MODELS}add/", f"{VERSIONS}add/", f"{VERSIONS}{version.pk}/delete/"):
        assert client.get(path).status_code == 403, path


def test_an_administrator_deletes_a_model_with_its_files_and_the_audit_log_says_so(
    client, root, model, django_capture_on_commit_callbacks
):
    stored = list(Artifact.objects.values_list("storage_name", flat=True))
    uuids = list(model.versions.values_list("uuid", flat=True))
    storage = storages["artifacts"]
    assert len(stored) == 3 and all(storage.exists(name) for name in stored)
    client.force_login(root)
    confirm = client.get(f"{MODELS}{model.pk}/delete/")
    assert confirm.status_code == 200 and "Yes, I’m sure" in confirm.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{MODELS}{model.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not RegisteredModel.objects.exists() and not ModelVersion.objects.exists()
    assert not any(storage.exists(name) for name in stored)
    left = set(storage.listdir("versions")[0])
    assert not left & {str(uuid) for uuid in uuids}, "no empty version folder is left behind"
    event = AuditEvent.objects.get(verb="model.deleted")
    assert (event.actor_name, event.object_name, event.team_slug) == ("root", model.name, "fraud")
    assert event.before["versions"] == 2 and event.before["files"] == 3


def test_deleting_selected_models_goes_through_the_service_too(
    client, root, model, alice, teams, django_capture_on_commit_callbacks
):
    other = registered_model(alice, teams["fraud"], "churn-forecast")
    client.force_login(root)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            MODELS,
            {"action": "delete_selected", "_selected_action": [model.pk, other.pk], "post": "yes"},
        )
    assert not RegisteredModel.objects.exists()
    deleted = AuditEvent.objects.filter(verb="model.deleted").values_list("object_name", flat=True)
    assert sorted(deleted) == ["churn-forecast", "fraud-detector"]


def test_staff_without_the_permission_cannot_delete_a_model(client, staff, model):
    grant(staff, "view_registeredmodel")
    client.force_login(staff)
    assert client.get(MODELS).status_code == 200
    assert client.post(f"{MODELS}{model.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RegisteredModel.objects.filter(pk=model.pk).exists()
    assert not AuditEvent.objects.filter(verb="model.deleted").exists()


def test_the_outbox_shows_why_an_email_failed_and_sends_it_again(
    client, root, bob, teams, django_capture_on_commit_callbacks
):
    failed, sent = (
        OutboxEmail.objects.create(
            recipient=bob,
            to_address=bob.email,
            subject=subject,
            text_body="text",
            html_body="<p>html</p>",
            dedupe_key=subject,
            status=status,
            attempts=attempts,
            last_error=error,
        )
        for subject, status, attempts, error in [
            ("[Vetted] gave up", EmailStatus.FAILED, 24, "ConnectionRefusedError: [Errno 111]"),
            ("[Vetted] went out", EmailStatus.SENT, 1, ""),
        ]
    )
    client.force_login(root)
    page = client.get(f"/admin/notifications/outboxemail/{failed.pk}/change/").content.decode()
    assert "ConnectionRefusedError" in page and 'type="submit" value="Save' not in page

    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(
            "/admin/notifications/outboxemail/",
            {"action": "send_again", "_selected_action": [failed.pk, sent.pk]},
        )
    assert answer.status_code == 302
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == (EmailStatus.PENDING, 0)
    assert sent.status == EmailStatus.SENT  # only those that gave up go again
    assert len(queued) == 1  # the sender, queued once the change commits
    assert client.post(f"/admin/notifications/outboxemail/{sent.pk}/delete/").status_code == 403


def test_staff_who_may_only_view_the_outbox_cannot_send_again(client, staff, bob):
    grant(staff, "view_outboxemail")
    failed = OutboxEmail.objects.create(
        recipient=bob,
        to_address=bob.email,
        subject="[Vetted] gave up",
        text_body="text",
        html_body="",
        dedupe_key="k",
        status=EmailStatus.FAILED,
    )
    client.force_login(staff)
    assert client.get("/admin/notifications/outboxemail/").status_code == 200
    client.post(
        "/admin/notifications/outboxemail/",
        {"action": "send_again", "_selected_action": [failed.pk]},
    )
    failed.refresh_from_db()
    assert failed.status == EmailStatus.FAILED

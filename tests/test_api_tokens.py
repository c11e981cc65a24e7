"""API tokens: shown once, stored hashed, scoped, expiring, revocable, last use recorded."""

import hashlib
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken


def bearer(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


def test_a_token_is_shown_once_and_stored_only_as_a_hash(client, alice):
    client.force_login(alice)
    response = client.post(
        "/api/v1/tokens/",
        {"name": "github", "scopes": ["read", "write"]},
        content_type="application/json",
    )
    assert response.status_code == 201
    plain = response.json()["token"]
    assert plain.startswith("vt_")
    stored = ApiToken.objects.get()
    secret = plain.split("_", 2)[2]
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    listed = client.get("/api/v1/tokens/").json()
    assert "token" not in listed[0] and listed[0]["name"] == "github"


def test_a_token_works_and_records_its_last_use(alice):
    token, plain = account_services.create_token(user=alice, name="ci", scopes=["read"])
    assert bearer(plain).get("/api/v1/models/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_read_token_cannot_write(alice):
    _, plain = account_services.create_token(user=alice, name="ci", scopes=["read"])
    response = bearer(plain).post("/api/v1/models/", {"name": "m", "team": "fraud"}, format="json")
    assert response.status_code == 403
    assert "write scope" in response.json()["error"]["message"]


def test_revoked_expired_and_wrong_tokens_are_refused_with_401(alice):
    revoked, revoked_plain = account_services.create_token(user=alice, name="old", scopes=["read"])
    account_services.revoke_token(user=alice, token_id=revoked.pk)
    expired, expired_plain = account_services.create_token(
        user=alice, name="short", scopes=["read"], expires_in_days=1
    )
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _, good = account_services.create_token(user=alice, name="good", scopes=["read"])

    malformed = [
        "vt_nope_nope",
        "garbage",
        good[:15] + "\x00" + good[15:],
        "vt_" + "a" * 5000 + "_b",
    ]
    for plain in [revoked_plain, expired_plain, good[:-2] + "xx", *malformed]:
        response = bearer(plain).get("/api/v1/models/")
        assert response.status_code == 401, plain
        assert "token" in response.json()["error"]["message"]


def test_a_user_revokes_only_their_own_tokens(client, alice, bob):
    token, _ = account_services.create_token(user=alice, name="mine", scopes=["read"])
    client.force_login(bob)
    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    client.force_login(alice)
    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_anonymous_requests_get_401(db):
    response = APIClient().get("/api/v1/models/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["message"]


def test_bad_token_requests_are_refused_with_a_message(client, alice):
    client.force_login(alice)
    response = client.post(
        "/api/v1/tokens/", {"name": "x", "scopes": ["admin"]}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "scopes" in response.json()["error"]["message"]

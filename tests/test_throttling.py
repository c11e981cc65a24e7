"""Guessing passwords or tokens is slowed down: per account and per address, with a clear 429."""

from rest_framework.test import APIClient

from accounts import throttle
from tests.conftest import PASSWORD


def sign_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_ten_wrong_passwords_lock_the_account_for_a_while(client, alice):
    for _ in range(throttle.LOGIN.per_account):
        assert sign_in(client, "alice", "wrong").status_code == 200  # the form, with its error
    refused = sign_in(client, "alice", PASSWORD)  # even the right password, for now
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts. Wait 15 minutes" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_address_guessing_across_accounts_is_stopped(client, people):
    names = ["alice", "bob", "carol", "victor", "mallory"]
    for attempt in range(throttle.LOGIN.per_address):
        sign_in(client, names[attempt % len(names)], "wrong")  # 6 each: under the account limit
    assert sign_in(client, "bob", PASSWORD).status_code == 429


def test_a_right_password_after_a_few_mistakes_still_signs_in(client, alice):
    for _ in range(3):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_wrong_tokens_from_one_address_get_429_but_good_ones_pass(db, token_for, alice):
    good = token_for(alice, "read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer vt_0123456789ab_wrong")
    for _ in range(throttle.TOKEN.per_address - 1):
        assert client.get("/api/v1/models/").status_code == 401
    refused = client.get("/api/v1/models/")
    assert refused.status_code == 429
    assert "wrong token" in refused.json()["error"]["message"]
    # A good token is never slowed down: its requests never touch the counter.
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")
    assert client.get("/api/v1/models/").status_code == 200

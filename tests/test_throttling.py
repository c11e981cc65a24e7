"""Guessing passwords or tokens is slowed down: per account and per address, with a clear 429."""

import os
import subprocess
import sys
from pathlib import Path

from rest_framework.test import APIClient

from accounts import throttle
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


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


def test_without_redis_every_process_counts_into_one_sign_in_limit(tmp_path):
    """`make run` has four web processes and no Redis: a guesser spread over them is stopped."""
    count_five = (
        "import django; django.setup()\n"
        "from accounts import throttle\n"
        "for _ in range(5):\n"
        "    throttle.count_failure(throttle.LOGIN, address='10.0.0.9', account='alice')\n"
        "print(throttle.blocked(throttle.LOGIN, address='10.0.0.9', account='alice'))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
        "DJANGO_SETTINGS_MODULE": "vetted.settings",
        "DEBUG": "true",
        "VETTED_VAR_DIR": str(tmp_path),
    }
    answers = [
        subprocess.run(
            [sys.executable, "-c", count_five],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()[-1]
        for _ in range(2)
    ]
    assert answers == ["False", "True"]  # the second process saw the first one's five

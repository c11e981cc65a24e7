"""Production start-up: missing secrets fail loudly; a configured deploy passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env) -> subprocess.CompletedProcess:
    dropped = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_debug_a_missing_secret_key_stops_start_up():
    done = manage("check", DEBUG="false", ALLOWED_HOSTS="vetted.example.com")
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


def test_without_debug_missing_allowed_hosts_stops_start_up():
    done = manage("check", DEBUG="false", SECRET_KEY="x" * 60)
    assert done.returncode != 0
    assert "ALLOWED_HOSTS must be set" in done.stderr


def test_a_misspelled_boolean_stops_start_up():
    done = manage("check", DEBUG="ture")
    assert done.returncode != 0
    assert "DEBUG must be true or false" in done.stderr


def test_a_configured_production_deploy_passes_check_deploy():
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k7#Vq2!x9Lm@pR4$wZ8&nT1^bY6*cF3(hJ5)dG0-sK+eA=uP" * 2,
        ALLOWED_HOSTS="vetted.example.com",
        SITE_URL="https://vetted.example.com",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_warns_when_email_links_would_have_no_address():
    done = manage(
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY="k7#Vq2!x9Lm@pR4$wZ8&nT1^bY6*cF3(hJ5)dG0-sK+eA=uP" * 2,
        ALLOWED_HOSTS="vetted.example.com",
        SITE_URL="",
    )
    assert "notifications.W001" in done.stderr and "SITE_URL" in done.stderr

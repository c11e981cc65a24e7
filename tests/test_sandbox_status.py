"""How an operator learns whether model code can run: /readyz and the status command."""

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def without_bubblewrap(settings):
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"


def test_readyz_reports_the_sandbox_this_machine_makes(client, db, needs_bubblewrap):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["sandbox"]["isolation"] == "bubblewrap" and body["sandbox"]["problem"] == ""


def test_readyz_is_503_when_the_sandbox_is_required_but_missing(
    client, db, settings, without_bubblewrap
):
    settings.SANDBOX_REQUIRED = True
    response = client.get("/readyz")
    assert response.status_code == 503
    sandbox = response.json()["sandbox"]
    assert sandbox["isolation"] == "unavailable" and sandbox["required"] is True
    assert "apt-get install bubblewrap" in sandbox["problem"]


def test_readyz_is_ready_but_says_weak_under_debug_without_bubblewrap(
    client, db, settings, without_bubblewrap
):
    settings.SANDBOX_REQUIRED = False
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["sandbox"]["isolation"] == "weak"


def test_the_status_command_fails_when_model_code_cannot_run(settings, without_bubblewrap):
    settings.SANDBOX_REQUIRED = True
    with pytest.raises(CommandError, match="cannot run here.*bubblewrap"):
        call_command("sandbox_status")


def test_the_status_command_describes_the_sandbox(capsys, needs_bubblewrap):
    call_command("sandbox_status")
    assert "bubblewrap: no network" in capsys.readouterr().out

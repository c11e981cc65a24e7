"""A live Vetted that MLflow's own client talks to, configured the way a team would configure it.

`mlflow_as(user)` sets MLFLOW_TRACKING_URI=<live server>/mlflow and MLFLOW_TRACKING_TOKEN to a
fresh token of that user, and returns an `MlflowClient`; the fluent API (`mlflow.start_run`,
`mlflow.sklearn.log_model`, …) uses the same environment. Everything MLflow keeps in its module
globals (tracking URI, active run and experiment) is reset after each test, since each live-server
test starts from an empty database.

Test modules load these fixtures with `pytest_plugins = ["tests.mlflow_server"]`.
"""

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

# What a developer's shell may hold that would point the client elsewhere or authenticate it
# as someone else.
MLFLOW_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
)
# MLflow retries a 5xx answer for about two minutes; a server error should fail a test at once.
NO_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


@dataclass
class MlflowConnection:
    """What the client was given: enough to start another process configured the same way."""

    uri: str
    token: str
    client: object  # mlflow.MlflowClient

    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_TRACKING_TOKEN": self.token} | NO_RETRIES

    def run_python(self, code: str, *, timeout: int = 240) -> str:
        """Run `code` in a new Python process configured only by the two variables; its stdout.

        Nothing MLflow cached in this process reaches it: what it loads comes over HTTP.
        """
        clean = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARIABLES}
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=clean | self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-6000:]}"
        return done.stdout


def _reset_mlflow_globals() -> None:
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    mlflow.clear_active_model()
    fluent._active_experiment_id = None
    fluent._last_active_run_id.set(None)
    fluent._last_logged_model_id.set(None)


@pytest.fixture
def mlflow_as(live_server, monkeypatch):
    """mlflow_as(user, scopes="read,write", basic=False, team=None) → an MlflowConnection on the
    live Vetted, with a new token of that user (limited to `team` if given).

    With basic=True the token travels as MLFLOW_TRACKING_PASSWORD beside the user's name, as a
    team that set both variables would have it.
    """
    import mlflow

    from accounts.services import create_token

    for name in MLFLOW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_RETRIES.items():
        monkeypatch.setenv(name, value)
    _reset_mlflow_globals()

    def connect(
        user, scopes: str = "read,write", *, basic: bool = False, team=None
    ) -> MlflowConnection:
        _, token = create_token(user=user, name="mlflow", scopes=scopes.split(","), team=team)
        uri = f"{live_server.url}/mlflow"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        if basic:
            monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user.username)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", token)
        else:
            monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
            monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        return MlflowConnection(uri=uri, token=token, client=mlflow.MlflowClient(uri, uri))

    yield connect
    _reset_mlflow_globals()


@pytest.fixture
def mlflow_client(mlflow_as, alice):
    """alice's MlflowClient (data scientist and owner of team fraud, read and write)."""
    return mlflow_as(alice).client

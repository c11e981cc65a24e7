"""`manage.py import_mlflow`: a registry filled by MLflow's own client on a real `mlflow server`
(full MLflow, in .venv-mlflow-server, which `make test` builds) moves into Vetted whole, and
a second run changes nothing."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent, Channel
from registry import services
from registry.models import ModelAlias, ModelVersion, RegisteredModel, Stage
from reviews.models import Policy
from tests.conftest import need

SERVER_VENV = Path(__file__).resolve().parent.parent / ".venv-mlflow-server"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer {url} in 180 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on SQLite and local artifacts, serving artifacts as teams run it."""
    executable = SERVER_VENV / "bin" / "mlflow"
    need(f"a full MLflow server ({executable}; `make test-clients` builds it)", executable.exists())
    folder = tmp_path_factory.mktemp("mlflow-source")
    port = _free_port()
    log = folder / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                str(executable),
                "server",
                "--backend-store-uri",
                f"sqlite:///{folder / 'mlflow.db'}",
                "--artifacts-destination",
                str(folder / "artifacts"),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/health", server, log)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# Run in its own process: MLflow's fluent API keeps the active experiment and tracking URI in
# globals, which must not leak into other tests.
FILL_SOURCE = f"""
import mlflow, mlflow.sklearn
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

features, target = load_iris(return_X_y=True, as_frame=True)
mlflow.set_experiment("fraud")
git = {{
    "mlflow.source.git.commit": "{COMMIT}",
    "mlflow.source.git.repoURL": "https://git.example.com/fraud.git",
    "mlflow.source.git.branch": "main",
}}
for strength in (1.0, 0.5):
    with mlflow.start_run(tags=git):
        mlflow.log_params({{"C": strength, "max_iter": 300}})
        model = LogisticRegression(C=strength, max_iter=300).fit(features, target)
        mlflow.log_metric("accuracy", model.score(features, target))
        mlflow.sklearn.log_model(model, name="model", registered_model_name="fraud-detector")
for _ in range(2):
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn")
client = MlflowClient()
client.update_registered_model("fraud-detector", description="Scores card payments")
client.set_registered_model_tag("fraud-detector", "owner", "risk")
client.set_model_version_tag("fraud-detector", "1", "validated", "yes")
client.transition_model_version_stage("fraud-detector", "1", "Production")
client.transition_model_version_stage("fraud-detector", "2", "Staging")
client.transition_model_version_stage("churn", "1", "Production")
client.transition_model_version_stage("churn", "2", "Production")  # MLflow allows two
client.set_registered_model_alias("fraud-detector", "champion", "1")
client.set_registered_model_alias("fraud-detector", "challenger", "2")
"""


@pytest.fixture(scope="module")
def filled_source(mlflow_server):
    """Two models logged the way teams do, by MLflow's client: runs with params, metrics and git
    tags, sklearn models registered by log_model, tags, aliases, stages."""
    filled = subprocess.run(
        [sys.executable, "-c", FILL_SOURCE],
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if filled.returncode:
        pytest.fail(f"filling the MLflow server failed: {filled.stderr[-3000:]}")
    return mlflow_server


def _source_sha256(url: str, name: str, version: str, folder: Path) -> dict[str, str]:
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    uri = MlflowClient(url, registry_uri=url).get_model_version_download_uri(name, version)
    local = Path(download_artifacts(artifact_uri=uri, dst_path=str(folder), tracking_uri=url))
    return {
        p.relative_to(local).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in local.rglob("*")
        if p.is_file()
    }


def _import(url: str, *args: str) -> str:
    out = StringIO()
    try:
        call_command("import_mlflow", "--from", url, "--as", "alice", *args, stdout=out, stderr=out)
    except CommandError as error:  # with what it printed, which names each problem
        raise CommandError(f"{error}\n{out.getvalue()}") from None
    return out.getvalue()


def test_it_imports_every_model_version_file_tag_alias_and_stage(filled_source, alice, tmp_path):
    output = _import(filled_source)

    assert "Models: 2 created" in output
    model = RegisteredModel.objects.get(name="fraud-detector")
    assert model.team.slug == "fraud"
    assert model.description == "Scores card payments"
    assert dict(model.mlflow_tags.values_list("key", "value")) == {"owner": "risk"}
    versions = {v.number: v for v in model.versions.all()}
    assert sorted(versions) == [1, 2]
    for number, version in versions.items():
        stored = {a.path: a.sha256 for a in version.artifacts.all()}
        assert stored == _source_sha256(
            filled_source, "fraud-detector", str(number), tmp_path / str(number)
        )
        assert "MLmodel" in stored
        assert version.flavors.keys() >= {"python_function", "sklearn"}
        assert version.git_commit == COMMIT
        assert version.git_repo == "https://git.example.com/fraud.git"
        assert version.git_branch == "main"
        assert set(version.metrics) == {"accuracy"}
        assert version.mlflow_source.source.startswith("models:/m-")
    assert versions[1].params == {"C": "1.0", "max_iter": "300"}
    assert versions[2].params == {"C": "0.5", "max_iter": "300"}
    assert dict(versions[1].mlflow_tags.values_list("key", "value")) == {"validated": "yes"}
    assert (versions[1].stage, versions[2].stage) == (Stage.PRODUCTION, Stage.STAGING)
    aliases = dict(ModelAlias.objects.filter(model=model).values_list("name", "version__number"))
    assert aliases == {"champion": 1, "challenger": 2}
    churn = dict(ModelVersion.objects.filter(model__name="churn").values_list("number", "stage"))
    assert churn == {1: Stage.ARCHIVED, 2: Stage.PRODUCTION}  # Vetted keeps one in production
    events = AuditEvent.objects.filter(model_name="fraud-detector")
    assert set(events.values_list("channel", flat=True)) == {Channel.COMMAND}
    assert set(events.values_list("actor_name", flat=True)) == {"alice"}


def test_a_second_run_changes_nothing(filled_source, alice):
    _import(filled_source)
    events = AuditEvent.objects.count()

    output = _import(filled_source)

    assert "Models: 0 created, 2 already here. Versions: 0 imported" in output
    assert "4 already here. Tags set: 0. Aliases set: 0. Stages set: 0." in output
    assert AuditEvent.objects.count() == events
    assert ModelVersion.objects.count() == 4


def test_a_second_run_follows_the_source_but_keeps_stages_moved_in_vetted(filled_source, alice):
    from mlflow import MlflowClient

    _import(filled_source, "--model", "fraud-detector")
    version = ModelVersion.objects.get(model__name="fraud-detector", number=2)
    services.set_stage(actor=alice, version=version, stage=Stage.ARCHIVED, via="seed")
    source = MlflowClient(filled_source, registry_uri=filled_source)
    source.set_registered_model_alias("fraud-detector", "champion", "2")
    source.set_model_version_tag("fraud-detector", "1", "validated", "again")
    try:
        _import(filled_source, "--model", "fraud-detector")
    finally:
        source.set_registered_model_alias("fraud-detector", "champion", "1")
        source.set_model_version_tag("fraud-detector", "1", "validated", "yes")

    champion = ModelAlias.objects.get(model__name="fraud-detector", name="champion")
    assert champion.version.number == 2
    assert ModelVersion.objects.get(pk=version.pk).stage == Stage.ARCHIVED
    first = ModelVersion.objects.get(model__name="fraud-detector", number=1)
    assert dict(first.mlflow_tags.values_list("key", "value")) == {"validated": "again"}
    assert not RegisteredModel.objects.filter(name="churn").exists()


def test_a_name_taken_by_another_team_is_reported_and_the_rest_imported(
    filled_source, alice, people, teams
):
    services.create_model(actor=people["mallory"], name="churn", team=teams["growth"])

    with pytest.raises(CommandError, match="1 problem"):
        _import(filled_source)

    assert RegisteredModel.objects.get(name="churn").team.slug == "growth"
    assert not ModelVersion.objects.filter(model__name="churn").exists()
    assert ModelVersion.objects.filter(model__name="fraud-detector").count() == 2


def test_an_unreachable_server_is_a_clear_error(alice, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    with pytest.raises(CommandError, match=r"Cannot read the MLflow registry at http://127\.0"):
        _import(f"http://127.0.0.1:{_free_port()}")

    assert not RegisteredModel.objects.exists()


def test_it_needs_a_vetted_user_who_may_register_in_the_team(alice, people, teams):
    with pytest.raises(CommandError, match="No active Vetted user named 'nobody'"):
        call_command("import_mlflow", "--from", "http://127.0.0.1:1", "--as", "nobody")
    with pytest.raises(CommandError, match="alice may not register models in team growth"):
        call_command(
            "import_mlflow", "--from", "http://127.0.0.1:1", "--as", "alice", "--team", "growth"
        )


PREDICT = """
import json, sys
import mlflow.pyfunc
from sklearn.datasets import load_iris

features, _ = load_iris(return_X_y=True, as_frame=True)
print(json.dumps([int(p) for p in mlflow.pyfunc.load_model(sys.argv[1]).predict(features)]))
"""


def _predictions(uri: str, **env: str) -> list[int]:
    """In a new process, as an app would: MLflow's client loads `uri` and predicts on iris."""
    loaded = subprocess.run(
        [sys.executable, "-c", PREDICT, uri],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    return json.loads(loaded.stdout.splitlines()[-1])


def test_mlflows_client_loads_an_imported_version_from_vetted(
    filled_source, live_server, alice, token_for
):
    _import(filled_source, "--model", "fraud-detector")

    from_vetted = _predictions(
        "models:/fraud-detector@champion",
        MLFLOW_TRACKING_URI=f"{live_server.url}/mlflow",
        MLFLOW_TRACKING_TOKEN=token_for(alice, "read"),
    )

    assert from_vetted == _predictions(
        "models:/fraud-detector@champion", MLFLOW_TRACKING_URI=filled_source
    )


def test_an_alias_a_review_policy_gates_is_reported_not_moved(filled_source, alice, teams):
    Policy.objects.create(
        team=teams["fraud"], to_stage="production", required_approvals=1, aliases=["challenger"]
    )

    with pytest.raises(CommandError, match="1 problem") as refused:
        _import(filled_source, "--model", "fraud-detector")

    assert "fraud-detector@challenger (version 2)" in str(refused.value)
    assert "/models/fraud-detector/versions/2/" in str(refused.value)  # where to request it
    aliases = dict(
        ModelAlias.objects.filter(model__name="fraud-detector").values_list(
            "name", "version__number"
        )
    )
    assert aliases == {"champion": 1}  # version 1 came in production: its alias may follow

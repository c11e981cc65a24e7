"""The `vetted` command as a CI job runs it: a real subprocess against a live server."""

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from registry import services
from registry.models import Artifact, ModelVersion, RegisteredModel
from tests.promotions import promote

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMIT = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
GITHUB_ENV = {
    "GITHUB_SHA": COMMIT,
    "GITHUB_REF_NAME": "main",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/iris",
    "GITHUB_RUN_ID": "123456",
}
CI_PREFIXES = ("VETTED_", "GITHUB_", "GITLAB_", "CI_")


def run_vetted(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`vetted ARGS` in a fresh environment: nothing from the CI running these tests leaks in."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(CI_PREFIXES) and k != "CI"}
    # This checkout's CLI, whichever checkout the environment's editable install points at.
    clean["PYTHONPATH"] = str(REPO_ROOT / "cli")
    return subprocess.run(
        [sys.executable, "-m", "vetted_cli", *args],
        env=clean | env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def vetted_as(live_server, token_for):
    """vetted_as(user)(*args, **env): the CLI with that user's token, like a configured CI job."""

    def for_user(user, scopes="read,write"):
        token = token_for(user, scopes)

        def run(*args: str, **env: str) -> subprocess.CompletedProcess:
            return run_vetted(
                *args, env={"VETTED_URL": live_server.url, "VETTED_TOKEN": token} | env
            )

        return run

    return for_user


@pytest.fixture
def metrics_file(tmp_path) -> Path:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"accuracy": 0.97, "f1": 0.95}))
    return path


def sha256s(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def push_iris(vetted, folder: Path, *extra: str, **env: str) -> subprocess.CompletedProcess:
    return vetted("push", "iris", str(folder), "--team", "fraud", *extra, **env)


def test_it_pushes_a_model_folder_with_lineage_from_github_actions(
    vetted_as, alice, sklearn_model_dir, metrics_file
):
    done = push_iris(
        vetted_as(alice),
        sklearn_model_dir,
        "--metrics",
        str(metrics_file),
        "--param",
        "C=0.5",
        "--param",
        "solver=lbfgs",
        "--task-type",
        "classification",
        **GITHUB_ENV,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    version = ModelVersion.objects.get(model__name="iris", number=1)
    assert version.model.task_type == "classification"
    assert (version.git_commit, version.git_branch) == (COMMIT, "main")
    assert version.git_repo == "https://github.com/acme/iris"
    assert version.ci_run_url == "https://github.com/acme/iris/actions/runs/123456"
    assert version.params == {"C": 0.5, "solver": "lbfgs"}
    assert version.metrics == {"accuracy": 0.97, "f1": 0.95}
    assert {a.path: a.sha256 for a in version.artifacts.all()} == sha256s(sklearn_model_dir)


def test_it_reads_lineage_from_gitlab_ci(vetted_as, alice, sklearn_model_dir):
    gitlab = {
        "CI_COMMIT_SHA": COMMIT,
        "CI_COMMIT_REF_NAME": "retrain",
        "CI_PROJECT_URL": "https://gitlab.example.com/ml/iris",
        "CI_PIPELINE_URL": "https://gitlab.example.com/ml/iris/-/pipelines/77",
        "CI_JOB_URL": "https://gitlab.example.com/ml/iris/-/jobs/901",
    }

    done = push_iris(vetted_as(alice), sklearn_model_dir, **gitlab)

    assert done.returncode == 0, done.stderr
    version = ModelVersion.objects.get(model__name="iris")
    assert (version.git_commit, version.git_branch) == (COMMIT, "retrain")
    assert version.git_repo == "https://gitlab.example.com/ml/iris"
    assert version.ci_run_url == "https://gitlab.example.com/ml/iris/-/pipelines/77"


def test_it_returns_the_same_version_when_a_ci_step_is_retried(vetted_as, alice, sklearn_model_dir):
    vetted = vetted_as(alice)
    first = push_iris(vetted, sklearn_model_dir, **GITHUB_ENV)
    retried = push_iris(vetted, sklearn_model_dir, **GITHUB_ENV | {"GITHUB_RUN_ID": "123457"})

    assert (first.stdout, retried.stdout) == ("1\n", "1\n"), retried.stderr
    assert "already holds this push" in retried.stderr
    assert ModelVersion.objects.filter(model__name="iris").count() == 1


def test_it_pushes_a_new_version_when_the_content_changes(vetted_as, alice, copy_model_dir):
    vetted = vetted_as(alice)
    folder = copy_model_dir()
    assert push_iris(vetted, folder, **GITHUB_ENV).stdout == "1\n"
    (folder / "README.md").write_text("Retrained on March data.\n")

    done = push_iris(vetted, folder, **GITHUB_ENV)

    assert done.stdout == "2\n", done.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_it_reads_lineage_from_the_git_checkout_without_its_credentials(
    vetted_as, alice, copy_model_dir
):
    folder = copy_model_dir()

    def git(*args: str) -> str:
        return subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "-c",
                "user.name=CI",
                "-c",
                "user.email=ci@example.com",
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q", "-b", "train-march")
    git("add", ".")
    git("commit", "-qm", "Train")
    git("remote", "add", "origin", "https://gitlab-ci-token:s3cret@gitlab.example.com/ml/iris.git")

    done = push_iris(vetted_as(alice), folder)

    assert done.returncode == 0, done.stderr
    version = ModelVersion.objects.get(model__name="iris")
    assert version.git_commit == git("rev-parse", "HEAD")
    assert version.git_branch == "train-march"
    assert version.git_repo == "https://gitlab.example.com/ml/iris.git"


def test_it_adds_tags_to_the_ones_the_model_has(vetted_as, alice, teams, sklearn_model_dir):
    services.create_model(actor=alice, name="iris", team=teams["fraud"], tags=["baseline"])

    done = vetted_as(alice)("push", "iris", str(sklearn_model_dir), "--tag", "Tabular")

    assert done.returncode == 0, done.stderr
    model = RegisteredModel.objects.get(name="iris")
    assert sorted(t.name for t in model.tags.all()) == ["baseline", "tabular"]


def test_it_says_so_when_the_role_may_push_but_not_tag(vetted_as, alice, bob, sklearn_model_dir):
    assert push_iris(vetted_as(alice), sklearn_model_dir).returncode == 0

    done = vetted_as(bob)("push", "iris", str(sklearn_model_dir), "--tag", "nightly")

    assert done.returncode == 4
    assert done.stdout == "1\n"
    assert "Version 1 is registered, but the tags were not added" in done.stderr


def test_it_pulls_the_production_version_with_identical_files(
    vetted_as, alice, bob, sklearn_model_dir, tmp_path
):
    assert push_iris(vetted_as(alice), sklearn_model_dir).returncode == 0
    version = ModelVersion.objects.get(model__name="iris", number=1)
    promote(version, "production", author=alice, approver=bob)
    out = tmp_path / "deploy" / "model"

    done = vetted_as(bob, "read")("pull", "iris", "--stage", "production", "-o", str(out))

    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    assert sha256s(out) == sha256s(sklearn_model_dir)


def test_it_deletes_a_tampered_download_and_exits_7(vetted_as, alice, sklearn_model_dir, tmp_path):
    assert push_iris(vetted_as(alice), sklearn_model_dir).returncode == 0
    artifact = Artifact.objects.get(version__model__name="iris", path="MLmodel")
    storage = storages["artifacts"]
    with storage.open(artifact.storage_name, "rb") as stored:
        flipped = bytes(b ^ 0x01 for b in stored.read())
    storage.delete(artifact.storage_name)
    assert storage.save(artifact.storage_name, ContentFile(flipped)) == artifact.storage_name
    out = tmp_path / "out"

    done = vetted_as(alice)("pull", "iris", "--version", "1", "-o", str(out))

    assert done.returncode == 7
    assert "Checksum mismatch for MLmodel" in done.stderr
    assert not (out / "MLmodel").exists()
    assert not [p for p in out.rglob("*") if "vetted-partial" in p.name]


def test_it_refuses_a_folder_holding_a_symlink(vetted_as, alice, copy_model_dir):
    folder = copy_model_dir()
    (folder / "weights.bin").symlink_to("/etc/hostname")

    done = push_iris(vetted_as(alice), folder)

    assert done.returncode == 2
    assert "weights.bin is a symbolic link" in done.stderr
    assert not RegisteredModel.objects.exists()


def test_it_prints_the_apis_message_for_rejected_input(
    vetted_as, alice, sklearn_model_dir, tmp_path
):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"auc": "high"}))

    done = push_iris(vetted_as(alice), sklearn_model_dir, "--metrics", str(metrics))

    assert done.returncode == 6
    assert "Metric 'auc' must be a number" in done.stderr


def test_it_exits_3_when_the_token_is_missing(live_server, sklearn_model_dir):
    done = run_vetted("push", "iris", str(sklearn_model_dir), env={"VETTED_URL": live_server.url})

    assert done.returncode == 3
    assert "VETTED_TOKEN is not set: create a token in Settings" in done.stderr


def test_it_exits_4_for_an_unknown_token(live_server, people):
    env = {"VETTED_URL": live_server.url, "VETTED_TOKEN": "vt_000000000000_nope"}

    done = run_vetted("pull", "iris", "--stage", "production", "-o", "unused", env=env)

    assert done.returncode == 4
    assert "unknown, revoked or expired" in done.stderr


def test_it_exits_4_when_a_read_only_token_pushes(vetted_as, alice, sklearn_model_dir):
    done = push_iris(vetted_as(alice, "read"), sklearn_model_dir)

    assert done.returncode == 4
    assert "write scope" in done.stderr
    assert not RegisteredModel.objects.exists()


def test_it_exits_5_for_an_unknown_model(vetted_as, alice, tmp_path):
    done = vetted_as(alice)("pull", "nope", "--stage", "production", "-o", str(tmp_path / "o"))

    assert done.returncode == 5
    assert "No model named 'nope'" in done.stderr


@pytest.mark.parametrize("command", ["push", "pull"])
def test_it_refuses_a_name_no_model_can_have(vetted_as, alice, sklearn_model_dir, command):
    where = [str(sklearn_model_dir), "--team", "fraud"] if command == "push" else ["--version", "1"]
    if command == "pull":
        where += ["-o", str(sklearn_model_dir.parent / "out")]

    done = vetted_as(alice)(command, "fraud/iris", *where)

    assert done.returncode == 2
    assert "'fraud/iris' cannot be a model name: use 1-100 letters, digits" in done.stderr
    assert "VETTED_URL" not in done.stderr
    assert not RegisteredModel.objects.exists()


def test_it_lists_the_models_with_their_stages(vetted_as, alice, bob, sklearn_model_dir):
    assert push_iris(vetted_as(alice), sklearn_model_dir).returncode == 0
    version = ModelVersion.objects.get(model__name="iris", number=1)
    promote(version, "staging", author=alice, approver=bob)

    done = vetted_as(alice)("models")

    assert done.stdout.splitlines()[1].split() == ["iris", "fraud", "1", "1", "-"]


class _Unavailable(http.server.BaseHTTPRequestHandler):
    """A load balancer in front of a restarting server."""

    requests = 0

    def do_GET(self):
        type(self).requests += 1
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_it_tries_three_times_through_a_gateway_error():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = run_vetted("models", env={"VETTED_URL": url, "VETTED_TOKEN": "vt_x_y"})
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 1
    assert _Unavailable.requests == 3
    assert "HTTP 503" in done.stderr


def test_it_imports_neither_django_nor_mlflow():
    probe = "import sys, vetted_cli; print(sorted({m.split('.')[0] for m in sys.modules}))"

    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert not {"django", "mlflow", "registry", "sklearn"} & set(
        json.loads(loaded.replace("'", '"'))
    )


def test_it_installs_as_its_own_package_needing_only_httpx():
    """A CI job installs the client (cli/pyproject.toml) without the server's dependencies."""
    required = metadata.requires("vetted-cli") or []
    assert [re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0] for r in required] == ["httpx"]
    command = Path(sys.executable).parent / "vetted"
    shown = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == f"vetted {metadata.version('vetted-cli')}"


def test_pulling_an_alias_that_points_at_an_archived_version_warns(
    vetted_as, alice, bob, sklearn_model_dir, tmp_path
):
    run = vetted_as(alice)
    for key in ("first", "second"):
        assert push_iris(run, sklearn_model_dir, "--idempotency-key", key).returncode == 0
    first, second = ModelVersion.objects.filter(model__name="iris").order_by("number")
    promote(first, "production", author=alice, approver=bob)
    services.set_alias(actor=bob, version=first, alias="champion")
    promote(second, "production", author=alice, approver=bob)  # archives v1

    done = vetted_as(bob, "read")("pull", "iris", "--alias", "champion", "-o", str(tmp_path / "m"))

    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    assert "warning: @champion points at version 1, which is archived" in done.stderr


class _Failing(http.server.BaseHTTPRequestHandler):
    """A Vetted server whose code broke: a 500 in the API's error shape, with its request id."""

    def do_GET(self):
        body = json.dumps(
            {
                "error": {
                    "status": 500,
                    "code": "error",
                    "message": "The server failed on this request.",
                    "detail": {},
                    "request_id": "4b1d2c3e4f5a",
                }
            }
        ).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-ID", "4b1d2c3e4f5a")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_it_says_what_a_failing_server_said_with_its_request_id():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = run_vetted("models", env={"VETTED_URL": url, "VETTED_TOKEN": "vt_x_y"})
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 1
    assert "The server failed on this request. (request id 4b1d2c3e4f5a) (HTTP 500" in done.stderr
    assert "VETTED_URL" not in done.stderr

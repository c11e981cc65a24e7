"""MLflow's artifact service under /mlflow/: files logged into runs and logged models, streamed
both ways, listed as MLflow's client reads them, and a registered version's frozen files."""

import hashlib
import io
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from mlflow_api.models import LoggedModel, Run, StagedArtifact
from registry.services import artifact_storage
from tests import test_chunked_bodies, test_s3_storage
from tests.page_factories import pushed_version, registered_model

ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
gunicorn = test_chunked_bodies.gunicorn  # Vetted served by gunicorn, as in production
s3_endpoint = test_s3_storage.s3_endpoint  # moto's S3 server
bucket = test_s3_storage.bucket  # artifact storage on it


def tracking_call(token: str, endpoint: str, **body) -> dict:
    """A tracking call as MLflow's client makes it while it logs."""
    answer = Client().post(
        f"/mlflow/api/2.0/mlflow/{endpoint}",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.content
    return answer.json()


def logged_run(token: str) -> Run:
    """A run in an experiment of its own, made through the tracking endpoints."""
    experiment = tracking_call(token, "experiments/create", name=f"exp-{uuid.uuid4().hex}")
    run = tracking_call(token, "runs/create", experiment_id=experiment["experiment_id"])
    return Run.objects.get(run_id=run["run"]["info"]["run_id"])


@pytest.fixture
def run(alice, token_for) -> Run:
    return logged_run(token_for(alice))


@pytest.fixture
def logged_model(alice, token_for, run) -> LoggedModel:
    created = tracking_call(
        token_for(alice),
        "logged-models",
        experiment_id=str(run.experiment_id),
        name="model",
        source_run_id=run.run_id,
    )
    return LoggedModel.objects.get(model_id=created["model"]["info"]["model_id"])


@pytest.fixture
def mlflow_as(token_for):
    """mlflow_as(user, scopes) → a client that sends the token as MLflow's client does."""

    def make(user, scopes="read,write"):
        return Client(headers={"Authorization": f"Bearer {token_for(user, scopes)}"})

    return make


def root_of(run: Run) -> str:
    return f"{ARTIFACTS}/{run.experiment_id}/{run.run_id}/artifacts"


def put(client, url, content: bytes, **extra):
    return client.generic("PUT", url, content, content_type="application/octet-stream", **extra)


def stored_upload_folders(owner_folder: str) -> list[str]:
    try:
        return artifact_storage().listdir(owner_folder)[0]
    except FileNotFoundError:
        return []


def test_a_logged_file_downloads_as_sent_with_its_sha256(mlflow_as, alice, run):
    client = mlflow_as(alice)
    content = os.urandom(3 * 1024 * 1024 + 7)  # several 1 MiB chunks and a tail

    answer = put(client, f"{root_of(run)}/model/model.pkl", content)
    assert answer.status_code == 200
    assert answer.json() == {}

    download = client.get(f"{root_of(run)}/model/model.pkl")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert int(download["Content-Length"]) == len(content)
    row = StagedArtifact.objects.get(run=run)
    assert (row.path, row.size, row.sha256) == (
        "model/model.pkl",
        len(content),
        hashlib.sha256(content).hexdigest(),
    )


def test_a_folder_lists_its_files_and_folders_as_mlflow_does(mlflow_as, alice, run):
    client = mlflow_as(alice)
    for path, content in [
        ("model/MLmodel", b"flavors: {}\n"),
        ("model/data/weights.bin", b"0123456789"),
        ("notes.txt", b"hi"),
    ]:
        assert put(client, f"{root_of(run)}/{path}", content).status_code == 200
    root = f"{run.experiment_id}/{run.run_id}/artifacts"

    top = client.get(ARTIFACTS, {"path": root})
    model = client.get(ARTIFACTS, {"path": f"{root}/model"})

    assert top.json() == {
        "files": [
            {"path": "model", "is_dir": True},
            {"path": "notes.txt", "is_dir": False, "file_size": 2},
        ]
    }
    assert model.json() == {
        "files": [
            {"path": "MLmodel", "is_dir": False, "file_size": 12},
            {"path": "data", "is_dir": True},
        ]
    }


def test_a_missing_folder_or_a_file_lists_as_an_empty_object(mlflow_as, alice, run):
    client = mlflow_as(alice)
    put(client, f"{root_of(run)}/notes.txt", b"hi")
    root = f"{run.experiment_id}/{run.run_id}/artifacts"

    for path in (f"{root}/nothing/here", f"{root}/notes.txt", ""):
        answer = client.get(ARTIFACTS, {"path": path})
        assert (answer.status_code, answer.json()) == (200, {})


def test_a_logged_model_takes_files_at_its_own_root(mlflow_as, alice, logged_model):
    client = mlflow_as(alice)
    root = f"{logged_model.experiment_id}/models/{logged_model.model_id}/artifacts"

    assert put(client, f"{ARTIFACTS}/{root}/MLmodel", b"flavors: {}\n").status_code == 200

    listed = client.get(ARTIFACTS, {"path": root}).json()
    assert listed == {"files": [{"path": "MLmodel", "is_dir": False, "file_size": 12}]}
    assert StagedArtifact.objects.get().logged_model == logged_model


def test_a_second_upload_replaces_the_file_and_its_stored_bytes(
    mlflow_as, alice, run, django_capture_on_commit_callbacks
):
    client = mlflow_as(alice)
    url = f"{root_of(run)}/model.pkl"
    with django_capture_on_commit_callbacks(execute=True):
        put(client, url, b"first")
        put(client, url, b"second")

    assert b"".join(client.get(url).streaming_content) == b"second"
    assert StagedArtifact.objects.count() == 1
    assert len(stored_upload_folders(f"mlflow/runs/{run.run_id}")) == 1


def test_listing_and_downloading_cost_the_same_queries_however_many_files(mlflow_as, alice, run):
    client = mlflow_as(alice)
    root = f"{run.experiment_id}/{run.run_id}/artifacts"

    def queries() -> list[int]:
        counts = []
        for request in (
            lambda: client.get(ARTIFACTS, {"path": root}),
            lambda: client.get(ARTIFACTS, {"path": f"{root}/model"}),
            lambda: client.get(f"{root_of(run)}/model/file-0.bin"),
        ):
            with CaptureQueriesContext(connection) as captured:
                assert request().status_code == 200
            counts.append(len(captured))
        return counts

    put(client, f"{root_of(run)}/model/file-0.bin", b"x")
    few = queries()
    for i in range(1, 30):
        put(client, f"{root_of(run)}/model/file-{i}.bin", b"x")
        put(client, f"{root_of(run)}/other/{i}/file.bin", b"x")

    assert queries() == few


def test_on_s3_a_replaced_or_deleted_file_leaves_no_object_behind(
    bucket, mlflow_as, alice, run, django_capture_on_commit_callbacks
):
    client = mlflow_as(alice)
    content = os.urandom(3 * 1024 * 1024)
    url = f"{root_of(run)}/model/model.pkl"

    with django_capture_on_commit_callbacks(execute=True):
        put(client, url, b"first")
        assert put(client, url, content).status_code == 200
    stored = test_s3_storage.stored_keys(bucket)
    row = StagedArtifact.objects.get()
    download = b"".join(client.get(url).streaming_content)
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(root_of(run))

    assert stored == {row.storage_name}
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert download == content
    assert test_s3_storage.stored_keys(bucket) == set()


def test_it_deletes_a_file_or_a_folder(mlflow_as, alice, run, django_capture_on_commit_callbacks):
    client = mlflow_as(alice)
    for path in ("model/MLmodel", "model/model.pkl", "notes.txt"):
        put(client, f"{root_of(run)}/{path}", b"x")

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.delete(f"{root_of(run)}/model")

    assert (answer.status_code, answer.json()) == (200, {})
    assert list(StagedArtifact.objects.values_list("path", flat=True)) == ["notes.txt"]
    assert len(stored_upload_folders(f"mlflow/runs/{run.run_id}")) == 1


@pytest.mark.parametrize(
    "path",
    [
        "../../../etc/passwd",
        "model/../../other-run/artifacts/x",
        "model//x",
        "model/./x",
        "model/",
        "model\\x",
        "model/%01x",
        "model/%00x",
    ],
)
def test_it_refuses_paths_that_could_leave_their_folder(mlflow_as, alice, run, path):
    answer = put(mlflow_as(alice), f"{root_of(run)}/{path}", b"x")

    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not StagedArtifact.objects.exists()


def test_an_encoded_dot_dot_is_refused_too(mlflow_as, alice, run):
    answer = put(mlflow_as(alice), f"{root_of(run)}/%2E%2E/%2e%2e/x", b"x")

    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_file_cannot_become_a_folder_nor_a_folder_a_file(mlflow_as, alice, run):
    client = mlflow_as(alice)
    put(client, f"{root_of(run)}/model/MLmodel", b"x")

    as_file = put(client, f"{root_of(run)}/model", b"x")
    inside_file = put(client, f"{root_of(run)}/model/MLmodel/x", b"x")

    assert [as_file.status_code, inside_file.status_code] == [400, 400]
    assert StagedArtifact.objects.count() == 1


def test_a_body_past_the_limit_is_a_413_and_nothing_is_stored(mlflow_as, alice, run, settings):
    settings.MAX_UPLOAD_BYTES = 1000

    answer = put(mlflow_as(alice), f"{root_of(run)}/model.pkl", b"x" * 1001)

    assert answer.status_code == 413
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "limit" in answer.json()["message"]
    assert not StagedArtifact.objects.exists()
    assert stored_upload_folders(f"mlflow/runs/{run.run_id}") == []


def test_a_body_cut_short_is_refused_and_nothing_is_stored(mlflow_as, alice, run):
    """The client went away after 5 of its 1000 bytes: no 5-byte model is kept."""
    answer = mlflow_as(alice).generic(
        "PUT",
        f"{root_of(run)}/model.pkl",
        b"x",
        content_type="application/octet-stream",
        CONTENT_LENGTH="1000",
        **{"wsgi.input": io.BytesIO(b"short")},
    )

    assert answer.status_code == 400
    assert "ended after 5 of its 1000 bytes" in answer.json()["message"]
    assert not StagedArtifact.objects.exists()
    assert stored_upload_folders(f"mlflow/runs/{run.run_id}") == []


def test_a_chunked_body_a_server_cannot_de_chunk_is_a_411_not_an_empty_file(mlflow_as, alice, run):
    """Django's own server and test client read a chunked body as empty: refused, not stored."""
    answer = mlflow_as(alice).generic(
        "PUT",
        f"{root_of(run)}/model.pkl",
        b"5\r\nhello\r\n0\r\n\r\n",
        content_type="application/octet-stream",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )

    assert answer.status_code == 411
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not StagedArtifact.objects.exists()


def test_another_teams_run_does_not_exist_for_you(mlflow_as, people, run):
    client = mlflow_as(people["mallory"])
    put(mlflow_as(people["alice"]), f"{root_of(run)}/model.pkl", b"secret")
    root = f"{run.experiment_id}/{run.run_id}/artifacts"

    answers = [
        put(client, f"{root_of(run)}/model.pkl", b"overwrite"),
        client.get(f"{root_of(run)}/model.pkl"),
        client.get(ARTIFACTS, {"path": root}),
        client.delete(f"{root_of(run)}/model.pkl"),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert {a.json()["error_code"] for a in answers} == {"RESOURCE_DOES_NOT_EXIST"}
    assert StagedArtifact.objects.get().size == len(b"secret")


def test_a_run_in_another_experiment_is_not_found_at_this_one(mlflow_as, alice, token_for, run):
    other = logged_run(token_for(alice)).experiment_id

    answer = put(mlflow_as(alice), f"{ARTIFACTS}/{other}/{run.run_id}/artifacts/x", b"x")

    assert answer.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "nothing",
        "1/a-run/not-artifacts/x",
        "99999999999999999999/a-run/artifacts/x",
        "\u00b2/a-run/artifacts/x",
        "registered/fraud-detector/\u00b2/x",
        "registered/fraud-detector/99999999999999999999/x",
    ],
)
def test_a_path_in_nothing_vetted_holds_is_not_found(mlflow_as, alice, path):
    client = mlflow_as(alice)

    answers = [client.get(f"{ARTIFACTS}/{path}"), client.get(ARTIFACTS, {"path": path})]

    assert [a.status_code for a in answers] == [404, 404]
    assert {a.json()["error_code"] for a in answers} == {"RESOURCE_DOES_NOT_EXIST"}


def test_a_read_token_cannot_upload_or_delete(mlflow_as, alice, run):
    put(mlflow_as(alice), f"{root_of(run)}/model.pkl", b"kept")
    reader = mlflow_as(alice, "read")

    answers = [put(reader, f"{root_of(run)}/model.pkl", b"x"), reader.delete(root_of(run))]

    assert [a.status_code for a in answers] == [403, 403]
    assert {a.json()["error_code"] for a in answers} == {"PERMISSION_DENIED"}
    assert b"".join(reader.get(f"{root_of(run)}/model.pkl").streaming_content) == b"kept"


def test_a_viewer_reads_but_cannot_log_artifacts(mlflow_as, people, run):
    put(mlflow_as(people["alice"]), f"{root_of(run)}/model.pkl", b"kept")
    viewer = mlflow_as(people["victor"])

    refused = put(viewer, f"{root_of(run)}/model.pkl", b"x")

    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"
    assert viewer.get(f"{root_of(run)}/model.pkl").status_code == 200


def test_a_registered_versions_files_list_and_download_read_only(mlflow_as, alice, teams):
    model = registered_model(alice, teams["fraud"], name="fraud-detector")
    pushed_version(alice, model, files=[("README.md", b"# fraud\n"), ("data/w.bin", b"abc")])
    client = mlflow_as(alice)
    root = "registered/fraud-detector/1"

    listed = client.get(ARTIFACTS, {"path": root})
    download = client.get(f"{ARTIFACTS}/{root}/data/w.bin")
    overwrite = put(client, f"{ARTIFACTS}/{root}/data/w.bin", b"evil")

    assert listed.json() == {
        "files": [
            {"path": "README.md", "is_dir": False, "file_size": 8},
            {"path": "data", "is_dir": True},
        ]
    }
    assert b"".join(download.streaming_content) == b"abc"
    assert download["Digest"] == "sha-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    assert overwrite.status_code == 403
    assert b"".join(client.get(f"{ARTIFACTS}/{root}/data/w.bin").streaming_content) == b"abc"


def test_another_teams_version_does_not_exist_for_you(mlflow_as, people, teams):
    model = registered_model(people["alice"], teams["fraud"], name="fraud-detector")
    pushed_version(people["alice"], model)

    answer = mlflow_as(people["mallory"]).get(f"{ARTIFACTS}/registered/fraud-detector/1/model.pkl")

    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_folder_is_not_downloaded(mlflow_as, alice, run):
    client = mlflow_as(alice)
    put(client, f"{root_of(run)}/model/MLmodel", b"x")

    answer = client.get(f"{root_of(run)}/model")

    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_server_info_tells_the_client_to_upload_without_multipart(mlflow_as, alice):
    answer = mlflow_as(alice).get("/mlflow/api/3.0/mlflow/server-info")

    assert answer.status_code == 200
    info = answer.json()
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False
    assert info["artifacts_presigned_only"] is False


# --- Over HTTP, as MLflow's client sends it --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_50_mb_file_streams_up_and_down(needs_postgres, live_server, alice, token_for):
    run = logged_run(token_for(alice))
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    url = f"{live_server.url}{root_of(run)}/model/weights.bin"
    chunk = os.urandom(1024 * 1024)
    expected = hashlib.sha256(chunk * 50).hexdigest()

    def body():
        for _ in range(50):
            yield chunk

    sent = httpx.put(
        url,
        content=body(),
        headers=headers | {"Content-Length": str(50 * len(chunk))},
        timeout=120,
    )
    assert (sent.status_code, sent.json()) == (200, {})
    received = hashlib.sha256()
    with httpx.stream("GET", url, headers=headers, timeout=120) as download:
        assert download.status_code == 200
        for part in download.iter_bytes():
            received.update(part)

    assert received.hexdigest() == expected
    assert StagedArtifact.objects.get().sha256 == expected


@pytest.mark.django_db(transaction=True)
def test_a_client_sending_past_the_limit_reads_its_413(
    needs_postgres, live_server, alice, token_for, settings
):
    settings.MAX_UPLOAD_BYTES = 1024 * 1024
    run = logged_run(token_for(alice))

    answer = httpx.put(
        f"{live_server.url}{root_of(run)}/weights.bin",
        content=b"x" * (5 * 1024 * 1024),
        headers={"Authorization": f"Bearer {token_for(alice)}"},
        timeout=60,
    )

    assert answer.status_code == 413
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "1.0 MiB" in answer.json()["message"]
    assert not StagedArtifact.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_uploads_of_one_path_leave_one_whole_file(
    needs_postgres, live_server, alice, token_for
):
    run = logged_run(token_for(alice))
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    url = f"{live_server.url}{root_of(run)}/model/weights.bin"
    bodies = [bytes([i]) * (2 * 1024 * 1024) for i in range(8)]

    def upload(body: bytes) -> int:
        return httpx.put(url, content=body, headers=headers, timeout=120).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(upload, bodies))

    assert statuses == [200] * 8
    final = httpx.get(url, headers=headers, timeout=120).content
    assert final in bodies
    row = StagedArtifact.objects.get()
    assert row.sha256 == hashlib.sha256(final).hexdigest()
    assert stored_upload_folders(f"mlflow/runs/{run.run_id}") == [row.storage_name.split("/")[3]]


@pytest.mark.django_db(transaction=True)
def test_mlflows_own_artifact_client_logs_lists_and_downloads(
    needs_postgres, live_server, alice, token_for, tmp_path, monkeypatch
):
    """The artifact repository MLflow's client uses for `mlflow-artifacts:/` URIs, unchanged."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    run = logged_run(token_for(alice))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{live_server.url}/mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(alice))
    source = tmp_path / "model"
    (source / "data").mkdir(parents=True)
    (source / "MLmodel").write_text("flavors: {}\n")
    (source / "data" / "weights.bin").write_bytes(os.urandom(100_000))
    repository = get_artifact_repository(
        f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"
    )

    repository.log_artifacts(str(source), "model")
    listed = [(f.path, f.is_dir, f.file_size) for f in repository.list_artifacts("model")]
    (tmp_path / "back").mkdir()
    target = repository.download_artifacts("model", str(tmp_path / "back"))

    assert listed == [("model/MLmodel", False, 12), ("model/data", True, None)]
    assert (tmp_path / "back" / "model" / "data" / "weights.bin").read_bytes() == (
        source / "data" / "weights.bin"
    ).read_bytes()
    assert target.endswith("model")


def test_mlflows_client_logs_an_empty_file_through_gunicorn(
    gunicorn, alice, token_for, tmp_path, monkeypatch
):
    """requests sends an empty file chunked (no Content-Length): gunicorn de-chunks it, and an
    empty `__init__.py` in a model's code is stored as the empty file it is."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    run = logged_run(token_for(alice))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{gunicorn}/mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(alice))
    (tmp_path / "__init__.py").write_bytes(b"")
    repository = get_artifact_repository(
        f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"
    )

    repository.log_artifact(str(tmp_path / "__init__.py"), "model/code")

    row = StagedArtifact.objects.get()
    assert (row.path, row.size, row.sha256) == (
        "model/code/__init__.py",
        0,
        hashlib.sha256(b"").hexdigest(),
    )


def test_a_chunked_body_is_stored_whole_through_gunicorn(gunicorn, alice, token_for):
    run = logged_run(token_for(alice))
    content = os.urandom(3 * 1024 * 1024)

    def chunks():
        for start in range(0, len(content), 100_000):
            yield content[start : start + 100_000]

    answer = httpx.put(
        f"{gunicorn}{root_of(run)}/weights.bin",
        content=chunks(),
        headers={"Authorization": f"Bearer {token_for(alice)}"},
        timeout=60,
    )

    assert (answer.status_code, answer.json()) == (200, {})
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert StagedArtifact.objects.get().sha256 == hashlib.sha256(content).hexdigest()

"""Artifacts on S3-compatible storage (ARTIFACT_STORAGE=s3): the same CI push, download and load
check, against moto's standalone server, which speaks the S3 HTTP API as MinIO or AWS would."""

import hashlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from io import StringIO

import boto3
import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from registry.models import ModelVersion
from registry.tasks import run_load_check
from tests.conftest import tar_gz_of
from tests.promotions import promote

BUCKET = "vetted-artifacts"
CREDENTIALS = {"aws_access_key_id": "vetted-test", "aws_secret_access_key": "vetted-test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("moto's S3 server did not start")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, settings):
    """A fresh bucket, and the artifacts storage pointed at it for this test."""
    s3 = boto3.resource("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    bucket = s3.Bucket(BUCKET)
    bucket.create()
    s3_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "endpoint_url": s3_endpoint,
            "region_name": "us-east-1",
            "access_key": CREDENTIALS["aws_access_key_id"],
            "secret_key": CREDENTIALS["aws_secret_access_key"],
            "file_overwrite": False,
            "default_acl": None,
        },
    }
    settings.STORAGES = settings.STORAGES | {"artifacts": s3_storage, "default": s3_storage}
    yield bucket
    bucket.objects.all().delete()
    bucket.delete()


def stored_keys(bucket) -> set[str]:
    return {item.key for item in bucket.objects.all()}


def test_a_pushed_model_lands_in_the_bucket_loads_and_downloads_intact(
    api_as, alice, bob, sklearn_model_dir, bucket
):
    client = api_as(alice)
    pushed = client.post(
        "/api/v1/models/iris/versions/",
        {
            "team": "fraud",
            "archive": SimpleUploadedFile("model.tar.gz", tar_gz_of(sklearn_model_dir)),
            "files": [SimpleUploadedFile("notes.txt", b"trained on iris")],
            "paths": ["docs/notes.txt"],
        },
        format="multipart",
    )
    assert pushed.status_code == 201, pushed.json()
    version = pushed.json()
    keys = stored_keys(bucket)
    assert {a["path"] for a in version["artifacts"]} >= {"MLmodel", "model.skops", "docs/notes.txt"}
    assert len(keys) == len(version["artifacts"])
    assert all(key.startswith("versions/") for key in keys)

    # Each object in the bucket holds exactly the bytes of the file it stands for.
    for artifact in version["artifacts"]:
        download = client.get(artifact["download_url"])
        assert download.status_code == 200
        content = b"".join(download.streaming_content)
        assert hashlib.sha256(content).hexdigest() == artifact["sha256"]
        if artifact["path"] == "docs/notes.txt":
            assert content == b"trained on iris"
        else:
            assert content == (sklearn_model_dir / artifact["path"]).read_bytes()

    # The worker's load check reads the files back from the bucket and runs the model.
    run_load_check(ModelVersion.objects.get(number=version["version"]).latest_load_check_id)
    devops = api_as(bob)
    promote(ModelVersion.objects.get(number=1), "production", author=alice, approver=bob)
    check = devops.get("/api/v1/models/iris/stages/production").json()["load_check"]
    assert check["status"] == "passed", check["error"]
    assert check["prediction_shape"] == [3]


def test_a_refused_upload_leaves_nothing_in_the_bucket(api_as, alice, bucket):
    evil = SimpleUploadedFile("f.bin", b"payload")
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {
            "team": "fraud",
            "files": [SimpleUploadedFile("ok.bin", b"fine"), evil],
            "paths": ["ok.bin", "../escape.bin"],
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert stored_keys(bucket) == set()
    assert ModelVersion.objects.count() == 0


def test_the_sweep_keeps_a_versions_objects_and_a_young_orphans(
    api_as, alice, bucket, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # sweep no one else's workspaces
    data = {"team": "fraud", "files": [SimpleUploadedFile("w.bin", b"weights")]}
    response = api_as(alice).post("/api/v1/models/m/versions/", data, format="multipart")
    assert response.status_code == 201
    bucket.put_object(Key=f"versions/{uuid.uuid4()}/w.bin", Body=b"an upload under way")
    bucket.put_object(Key=f"mlflow/runs/r1/{uuid.uuid4().hex}/f.txt", Body=b"an MLflow upload")
    bucket.put_object(Key="monitoring/evaluations/7/predictions/00000.parquet", Body=b"a part")
    keys = stored_keys(bucket)
    out = StringIO()

    call_command("sweep_debris", stdout=out)

    assert "0 version folders no version names" in out.getvalue()
    assert "0 prediction folders of evaluations not under way" in out.getvalue()
    assert "0 MLflow uploads no run or logged model names" in out.getvalue()
    assert stored_keys(bucket) == keys and len(keys) == 4

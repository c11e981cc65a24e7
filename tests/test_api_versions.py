"""A CI job registers a real MLflow model, then an app resolves and downloads it."""

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from registry.models import ModelVersion, RegisteredModel
from tests.conftest import a_model_file, tar_gz_of
from tests.promotions import promote

COMMIT = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"


def push_archive(client, folder: Path, model="iris", headers=None, **fields):
    data = {
        "archive": SimpleUploadedFile("model.tar.gz", tar_gz_of(folder)),
        "team": "fraud",
        "task_type": "classification",
        "git_repo": "https://github.com/acme/iris",
        "git_commit": COMMIT,
        "git_branch": "main",
        "ci_run_url": "https://github.com/acme/iris/actions/runs/1",
        "training_data_uri": "s3://acme/iris.parquet",
        "training_data_sha256": "a" * 64,
        "params": json.dumps({"C": 1.0, "max_iter": 500}),
        "metrics": json.dumps({"accuracy": 0.97}),
        **fields,
    }
    return client.post(
        f"/api/v1/models/{model}/versions/", data, format="multipart", headers=headers or {}
    )


def push_one_file(client, model="m"):
    data = {"team": "fraud", "files": [a_model_file()]}
    return client.post(f"/api/v1/models/{model}/versions/", data, format="multipart")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_registers_an_mlflow_model_with_lineage_and_signature(api_as, alice, sklearn_model_dir):
    response = push_archive(api_as(alice), sklearn_model_dir)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["lineage"]["git_commit"] == COMMIT
    assert body["params"] == {"C": 1.0, "max_iter": 500}
    assert body["metrics"] == {"accuracy": 0.97}
    assert set(body["flavors"]) == {"python_function", "sklearn"}
    assert [c["name"] for c in body["signature"]["inputs"]][0] == "sepal length (cm)"
    assert any(r.startswith("scikit-learn") for r in body["requirements"])
    assert body["load_check"]["status"] == "pending"
    assert body["created_by"] == "alice" and body["token"] == "ci"
    sent = {
        str(p.relative_to(sklearn_model_dir)): sha256_of(p)
        for p in sklearn_model_dir.rglob("*")
        if p.is_file()
    }
    assert {a["path"]: a["sha256"] for a in body["artifacts"]} == sent


def test_a_load_check_is_queued_only_for_a_version_that_has_a_model_to_load(
    api_as, alice, sklearn_model_dir, django_capture_on_commit_callbacks
):
    client = api_as(alice)
    with django_capture_on_commit_callbacks() as queued:
        model = push_archive(client, sklearn_model_dir)
    assert model.json()["load_check"]["status"] == "pending" and len(queued) == 1

    with django_capture_on_commit_callbacks() as queued:
        weights = client.post(
            "/api/v1/models/iris/versions/",
            {"files": [SimpleUploadedFile("weights.bin", b"w")]},
            format="multipart",
        )
    check = weights.json()["load_check"]
    assert (check["status"], check["error"]) == (
        "failed",
        "This version has no MLmodel file to load.",
    )
    assert check["checked_at"] is not None and queued == []


def test_an_app_resolves_production_and_downloads_identical_files(
    api_as, alice, bob, people, sklearn_model_dir
):
    push_archive(api_as(alice), sklearn_model_dir)
    push_archive(api_as(alice), sklearn_model_dir, metrics=json.dumps({"accuracy": 0.98}))
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)

    app = api_as(people["carol"], "read")
    resolved = app.get("/api/v1/models/iris/stages/production")
    assert resolved.status_code == 200
    assert resolved.json()["version"] == 2
    for artifact in resolved.json()["artifacts"]:
        download = app.get(artifact["download_url"])
        assert download.status_code == 200
        content = b"".join(download.streaming_content)
        assert hashlib.sha256(content).hexdigest() == artifact["sha256"]
        assert download["ETag"] == f'"{artifact["sha256"]}"'
        assert download["X-Checksum-SHA256"] == artifact["sha256"]
        assert download["Content-Length"] == str(artifact["size"])
        again = app.get(artifact["download_url"], HTTP_IF_NONE_MATCH=download["ETag"])
        assert again.status_code == 304


def test_promoting_archives_the_previous_production_version(api_as, alice, bob):
    client = api_as(alice)
    for _ in range(2):
        assert push_one_file(client).status_code == 201
    devops = api_as(bob)
    promote(ModelVersion.objects.get(number=1), "production", author=alice, approver=bob)
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)

    stages = dict(ModelVersion.objects.values_list("number", "stage"))
    assert stages == {1: "archived", 2: "production"}
    model = devops.get("/api/v1/models/m/").json()
    assert model["stages"] == {"production": 2}


def test_aliases_point_at_versions_and_resolve(api_as, alice, bob):
    push_one_file(api_as(alice))
    devops = api_as(bob)

    assert (
        devops.put("/api/v1/models/m/aliases/champion", {"version": 1}, format="json").status_code
        == 200
    )
    resolved = devops.get("/api/v1/models/m/aliases/champion")
    assert resolved.status_code == 200 and resolved.json()["aliases"] == ["champion"]
    assert devops.delete("/api/v1/models/m/aliases/champion").status_code == 204
    assert devops.get("/api/v1/models/m/aliases/champion").status_code == 404


def test_a_retried_upload_with_the_same_idempotency_key_returns_the_same_version(
    api_as, alice, sklearn_model_dir
):
    client = api_as(alice)
    first = push_archive(client, sklearn_model_dir, headers={"Idempotency-Key": "run-42"})
    second = push_archive(client, sklearn_model_dir, headers={"Idempotency-Key": "run-42"})

    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["uuid"] == second.json()["uuid"]
    assert ModelVersion.objects.count() == 1


def test_version_numbers_grow_without_gaps(api_as, alice):
    client = api_as(alice)
    numbers = [push_one_file(client).json()["version"] for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_a_file_of_many_chunks_is_stored_whole_and_hashed_on_arrival(api_as, alice):
    content = os.urandom(7 * 1024 * 1024 // 2)  # 3.5 chunks of the upload handler
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": [SimpleUploadedFile("weights.bin", content)]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    (artifact,) = response.json()["artifacts"]
    assert artifact["sha256"] == hashlib.sha256(content).hexdigest()
    assert artifact["size"] == len(content)
    download = api_as(alice).get(artifact["download_url"])
    assert b"".join(download.streaming_content) == content
    # The threads that hashed and wrote the file ended with the request.
    assert not [t for t in threading.enumerate() if t.name == "upload-writer"]


def test_loose_multipart_files_are_stored_with_their_paths(api_as, alice):
    files = [SimpleUploadedFile("a.bin", b"alpha"), SimpleUploadedFile("b.bin", b"beta")]
    response = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": files, "paths": ["weights/a.bin", "b.bin"]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    stored = {a["path"]: a["sha256"] for a in response.json()["artifacts"]}
    assert stored == {
        "weights/a.bin": hashlib.sha256(b"alpha").hexdigest(),
        "b.bin": hashlib.sha256(b"beta").hexdigest(),
    }
    for artifact in response.json()["artifacts"]:
        download = api_as(alice).get(artifact["download_url"])
        assert (
            hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == artifact["sha256"]
        )


def test_files_are_listed_by_path_in_code_point_order_whatever_the_database_collation(
    api_as, alice
):
    paths = ["b.bin", "B.bin", "a.bin", "Z/1.bin", "é.bin", "_x.bin"]
    files = [SimpleUploadedFile(path.split("/")[-1], path.encode()) for path in paths]
    client = api_as(alice)
    response = client.post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": files, "paths": paths},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    listed = [a["path"] for a in response.json()["artifacts"]]
    assert listed == ["B.bin", "Z/1.bin", "_x.bin", "a.bin", "b.bin", "é.bin"]
    assert [a["path"] for a in client.get(response.json()["url"]).json()["artifacts"]] == listed


def test_a_push_is_answered_as_stored_with_the_same_queries_for_1_or_20_files(api_as, alice):
    client = api_as(alice)
    push_one_file(client)

    def push(count: int):
        files = [SimpleUploadedFile(f"part-{i}.bin", os.urandom(64)) for i in range(count)]
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/v1/models/m/versions/", {"files": files}, "multipart")
        assert response.status_code == 201, response.json()
        return response.json(), len(queries)

    one, few = push(1)
    twenty, many = push(20)

    assert many == few
    assert len(twenty["artifacts"]) == 20
    for answer in (one, twenty):  # built from what was just written, it matches a fresh read
        assert client.get(answer["url"]).json() == answer


def test_models_list_filters_by_name_team_tag_and_stage(api_as, alice, bob, people, teams):
    for name, tags in [("fraud-a", ["tabular"]), ("fraud-b", ["nlp"])]:
        services.create_model(actor=alice, name=name, team=teams["fraud"], tags=tags)
    services.create_model(actor=people["mallory"], name="growth-a", team=teams["growth"])
    push_one_file(api_as(alice), "fraud-b")
    staged = ModelVersion.objects.get(model__name="fraud-b", number=1)
    promote(staged, "staging", author=alice, approver=bob)
    client = api_as(people["carol"], "read")

    def names(query):
        return [m["name"] for m in client.get(f"/api/v1/models/{query}").json()["results"]]

    assert sorted(names("")) == ["fraud-a", "fraud-b"]  # never another team's models
    assert names("?search=-a") == ["fraud-a"]
    assert names("?tag=nlp") == ["fraud-b"]
    assert names("?stage=staging") == ["fraud-b"]
    assert names("?team=growth") == []


def test_model_description_is_edited_by_data_scientists(api_as, alice, people, teams):
    services.create_model(actor=alice, name="m", team=teams["fraud"])
    response = api_as(alice).patch(
        "/api/v1/models/m/",
        {"description": "# Fraud\nScores card payments.", "tags": ["cards"]},
        format="json",
    )
    assert response.status_code == 200
    assert RegisteredModel.objects.get().description.startswith("# Fraud")
    assert response.json()["tags"] == ["cards"]
    assert (
        api_as(people["carol"]).patch("/api/v1/models/m/", {"description": "x"}).status_code == 403
    )


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/"])
def test_the_openapi_schema_and_swagger_ui_are_served(client, alice, path):
    client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200
    if path.endswith("docs/"):
        html = response.content.decode()
        assert "swagger-ui" in html and "//cdn" not in html and "unpkg" not in html
        assert "<style" not in html and "<script>" not in html  # the CSP allows neither


def test_healthz_answers_without_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path, disposition",
    [
        ("evil.svg", 'attachment; filename="evil.svg"'),
        ("static/x.js", 'attachment; filename="x.js"'),
        ("page.html", 'attachment; filename="page.html"'),
        ("modèle.pkl", "attachment; filename*=utf-8''mod%C3%A8le.pkl"),
    ],
)
def test_a_download_is_bytes_to_save_whatever_the_file_is_called(
    api_as, client, alice, path, disposition
):
    content = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>'
    pushed = api_as(alice).post(
        "/api/v1/models/m/versions/",
        {"team": "fraud", "files": [SimpleUploadedFile("upload", content)], "paths": [path]},
        format="multipart",
    )
    assert pushed.status_code == 201, pushed.json()
    (artifact,) = pushed.json()["artifacts"]
    client.force_login(alice)  # the version page links to the same address
    for download in (
        api_as(alice).get(artifact["download_url"]),
        client.get(artifact["download_url"]),
    ):
        assert download.status_code == 200
        assert download["Content-Type"] == "application/octet-stream"
        assert download["Content-Disposition"] == disposition
        assert download["X-Content-Type-Options"] == "nosniff"
        assert b"".join(download.streaming_content) == content

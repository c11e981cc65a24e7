"""What killed uploads and load checks leave behind is swept once past the grace period, by beat's
task and `manage.py sweep_debris` alike; whatever a version still uses, or is still young, stays.
So is what MLflow uploads and fanned-out evaluations leave, by the sweepers their apps register."""

import logging
import os
import tempfile
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import Client

from mlflow_api.models import Run, StagedArtifact
from monitoring import fanout
from monitoring.services import claim_evaluation, finish_evaluation
from registry.models import Artifact
from registry.tasks import sweep_debris
from sandbox.runner import WORKSPACE_PREFIX
from tests.conftest import a_model_file
from tests.monitoring_datasets import credit_model  # noqa: F401 - a fixture
from tests.test_mlflow_artifacts import logged_run, put, root_of
from tests.test_monitoring_runs import ask, credit  # noqa: F401 - a fixture

HOUR = 3600


def age(path: Path, hours: float) -> None:
    """Make a file, or a folder and everything in it, last changed `hours` ago."""
    then = time.time() - hours * HOUR
    for folder, _, files in os.walk(path):
        for name in files:
            os.utime(os.path.join(folder, name), (then, then))
        os.utime(folder, (then, then))
    os.utime(path, (then, then))


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def own_folders(tmp_path, settings, monkeypatch):
    """Artifact storage, the upload temporary folder and the system's temporary folder (where
    workspaces are made): this test's own, so no other test's files are swept."""
    artifacts = settings.STORAGES["artifacts"] | {"OPTIONS": {"location": str(tmp_path / "a")}}
    settings.STORAGES = settings.STORAGES | {"artifacts": artifacts}
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    system_tmp = tmp_path / "system-tmp"
    for folder in (settings.FILE_UPLOAD_TEMP_DIR, system_tmp):
        os.mkdir(folder)
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    return system_tmp


@pytest.fixture
def debris(api_as, alice, settings, own_folders):
    """A version as stored now, one as stored before folders were named by versions, and what
    killed processes left: each old (7 hours) and young (1 hour)."""
    client = api_as(alice)
    data = {"team": "fraud", "files": [a_model_file(b"current")]}
    current = client.post("/api/v1/models/m/versions/", data, format="multipart").json()
    data = {"files": [a_model_file(b"older")]}
    older = client.post("/api/v1/models/m/versions/", data, format="multipart").json()

    versions = Path(storages["artifacts"].path("versions"))
    legacy = f"versions/{uuid.uuid4()}"  # how releases before stored a version's files
    os.rename(versions / older["uuid"], storages["artifacts"].path(legacy))
    Artifact.objects.filter(version__uuid=older["uuid"]).update(storage_name=f"{legacy}/model.pkl")

    uploads, system_tmp = Path(settings.FILE_UPLOAD_TEMP_DIR), own_folders
    found = {
        "current": versions / current["uuid"],
        "legacy": Path(storages["artifacts"].path(legacy)),
        "old upload": write(uploads / "tmpk1ll3d.upload.zip", b"u" * 1000),
        "young upload": write(uploads / "tmpl1v3.upload.tar.gz", b"u" * 10),
        "not an upload": write(uploads / "notes.txt", b"n"),
        "old workspace": write(system_tmp / f"{WORKSPACE_PREFIX}dead/model/MLmodel", b"w" * 200),
        "young workspace": write(system_tmp / f"{WORKSPACE_PREFIX}busy/model/MLmodel", b"w"),
        "old orphan": write(versions / str(uuid.uuid4()) / "weights/w.bin", b"o" * 3000),
        "empty orphan": versions / str(uuid.uuid4()),
        "young orphan": write(versions / str(uuid.uuid4()) / "w.bin", b"y"),
    }
    found["empty orphan"].mkdir()
    found["old workspace"] = found["old workspace"].parent.parent
    found["young workspace"] = found["young workspace"].parent.parent
    found["old orphan"] = found["old orphan"].parent.parent
    found["young orphan"] = found["young orphan"].parent
    for name, path in found.items():
        age(path, 1 if name.startswith("young") else 7)
    return found, current, older


SWEPT = {"old upload", "old workspace", "old orphan", "empty orphan"}


def test_the_command_deletes_old_debris_and_keeps_what_is_used_or_young(debris, api_as, alice):
    found, current, older = debris
    out = StringIO()
    call_command("sweep_debris", stdout=out)

    assert out.getvalue().strip() == (
        "Deleted 1 upload temporary files, 1 load-check workspaces, 2 version folders no version"
        " names, 0 prediction folders of evaluations not under way and 0 MLflow uploads no run"
        " or logged model names (4.1 KiB)."
    )
    assert {name for name, path in found.items() if not path.exists()} == SWEPT
    client = api_as(alice)
    for version, content in ((current, b"current"), (older, b"older")):
        download = client.get(f"{version['url']}artifacts/model.pkl")
        assert b"".join(download.streaming_content) == content


def test_beats_task_does_the_same_and_logs_it(debris, caplog):
    found, _, _ = debris
    with caplog.at_level(logging.INFO, logger="registry.services"):
        assert sweep_debris.apply().get() == 4

    assert {name for name, path in found.items() if not path.exists()} == SWEPT
    assert (
        "Swept debris older than 6 hours: 1 upload temporary files, 1 load-check workspaces,"
        " 2 version folders no version names, 0 prediction folders of evaluations not under way"
        " and 0 MLflow uploads no run or logged model names (4.1 KiB)." in caplog.messages
    )


def test_a_longer_grace_period_keeps_it_all(debris, settings):
    found, _, _ = debris
    settings.DEBRIS_GRACE_HOURS = 8
    call_command("sweep_debris", stdout=StringIO())
    assert all(path.exists() for path in found.values())


def stored(name: str) -> Path:
    return Path(storages["artifacts"].path(name))


@pytest.fixture
def app_debris(own_folders, api_as, alice, token_for, credit):  # noqa: F811
    """An MLflow run's file and a pending evaluation's parts, both in use, and what killed
    uploads, a deleted run and evaluations that ended without their chord's callback left: each
    old (7 hours), but one young upload (1 hour)."""
    client = Client(headers={"Authorization": f"Bearer {token_for(alice)}"})
    run, deleted = logged_run(token_for(alice)), logged_run(token_for(alice))
    assert put(client, f"{root_of(run)}/model.pkl", b"m" * 500).status_code == 200
    assert put(client, f"{root_of(deleted)}/model.pkl", b"d" * 700).status_code == 200
    in_use = StagedArtifact.objects.get(run=run).storage_name
    deleted_upload = StagedArtifact.objects.get(run=deleted).storage_name
    Run.objects.filter(pk=deleted.pk).delete()  # as deleting its team does: its files stay

    _, dataset, _ = credit
    answer = ask(api_as(alice), "credit", version=1, kind="performance", dataset=dataset.pk)
    pending = answer.json()["id"]
    found = {
        "staged upload": stored(in_use).parent,
        "killed upload": write(stored(f"mlflow/runs/{run.run_id}/{uuid.uuid4().hex}/x"), b"k"),
        "deleted run's upload": stored(deleted_upload).parent,
        "young upload": write(stored(f"mlflow/models/m-1/{uuid.uuid4().hex}/MLmodel"), b"y"),
        "pending run's parts": write(stored(fanout.part_name(pending, 0)), b"p" * 300),
        "deleted run's parts": write(stored(fanout.part_name(pending + 1, 3)), b"q" * 2000),
        "emptied parts": stored(fanout.parts_folder(pending + 2)),
    }
    found["emptied parts"].mkdir(parents=True)
    for name in ("killed upload", "young upload", "emptied parts"):
        found[name] = found[name].parent
    for name in ("pending run's parts", "deleted run's parts"):  # the run's folder
        found[name] = found[name].parent.parent
    for name, path in found.items():
        age(path, 1 if name.startswith("young") else 7)
    return found, pending


def test_the_apps_sweepers_delete_old_files_no_row_names_and_keep_the_rest(app_debris):
    found, _ = app_debris
    out = StringIO()
    call_command("sweep_debris", stdout=out)

    assert out.getvalue().strip() == (
        "Deleted 0 upload temporary files, 0 load-check workspaces, 0 version folders no version"
        " names, 2 prediction folders of evaluations not under way and 2 MLflow uploads no run"
        " or logged model names (2.6 KiB)."
    )
    assert {name for name, path in found.items() if not path.exists()} == {
        "killed upload",
        "deleted run's upload",
        "deleted run's parts",
        "emptied parts",
    }


def test_an_evaluation_that_ended_without_its_callback_leaves_its_parts_to_the_sweep(
    app_debris, caplog
):
    found, pending = app_debris
    call_command("sweep_debris", stdout=StringIO())
    assert found["pending run's parts"].exists()

    claim_evaluation(run_id=pending, worker="killed-worker")
    assert finish_evaluation(run_id=pending, status="failed", error="The worker went away.")
    with caplog.at_level(logging.INFO, logger="registry.services"):
        assert sweep_debris.apply().get() == 1

    assert not found["pending run's parts"].exists()
    assert (
        "Swept debris older than 6 hours: 0 upload temporary files, 0 load-check workspaces,"
        " 0 version folders no version names, 1 prediction folders of evaluations not under way"
        " and 0 MLflow uploads no run or logged model names (300 bytes)." in caplog.messages
    )

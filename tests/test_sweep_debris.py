"""What killed uploads and load checks leave behind is swept once past the grace period, by beat's
task and `manage.py sweep_debris` alike; whatever a version still uses, or is still young, stays."""

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

from registry.models import Artifact
from registry.tasks import sweep_debris
from sandbox.runner import WORKSPACE_PREFIX
from tests.conftest import a_model_file

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
        "Deleted 1 upload temporary files, 1 load-check workspaces and 2 version folders no"
        " version names (4.1 KiB)."
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
        "Swept debris older than 6 hours: 1 upload temporary files, 1 load-check workspaces and"
        " 2 version folders no version names (4.1 KiB)." in caplog.messages
    )


def test_a_longer_grace_period_keeps_it_all(debris, settings):
    found, _, _ = debris
    settings.DEBRIS_GRACE_HOURS = 8
    call_command("sweep_debris", stdout=StringIO())
    assert all(path.exists() for path in found.values())

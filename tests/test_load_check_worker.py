"""The load check with a real Celery worker on Redis: good models pass, bad ones fail plainly."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from registry.models import ModelVersion
from tests.conftest import pyfunc_model_dir, tar_gz_of

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


@pytest.fixture
def worker(needs_postgres, needs_redis, transactional_db):
    """A real `celery worker` process on this test database, Redis and artifact folder."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": os.environ["REDIS_URL"],
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LOAD_CHECK_TIMEOUT_SECONDS": "25",
        "LOAD_CHECK_MEMORY_MB": "2500",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vetted",
            "worker",
            "--purge",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=INFO",
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        log.append(line)
        if "ready." in line:
            break
    else:
        process.kill()
        pytest.fail("the worker did not start:\n" + "".join(log))
    yield process
    process.terminate()
    process.wait(timeout=30)


def push(client, name: str, folder: Path) -> int:
    response = client.post(
        f"/api/v1/models/{name}/versions/",
        {"team": "fraud", "archive": SimpleUploadedFile("m.tar.gz", tar_gz_of(folder))},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()["version"]


def wait_for_checks(names, timeout=90) -> dict[str, ModelVersion]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        versions = {v.model.name: v for v in ModelVersion.objects.select_related("model")}
        if all(versions[n].load_status in ("passed", "failed") for n in names):
            return versions
        time.sleep(0.5)
    pytest.fail(f"load checks did not finish: {[(n, versions[n].load_status) for n in names]}")


def test_the_worker_passes_good_models_and_fails_broken_slow_or_hungry_ones(
    worker, api_as, alice, sklearn_model_dir, tmp_path
):
    client = api_as(alice)
    push(client, "good", sklearn_model_dir)
    push(
        client, "raises", pyfunc_model_dir(tmp_path / "r", 'raise ValueError("scaler not fitted")')
    )
    push(client, "sleeps", pyfunc_model_dir(tmp_path / "s", "import time; time.sleep(120)"))

    hungry = "import numpy; numpy.ones(500_000_000)"  # 4 GB, past the 2.5 GB limit
    push(client, "hungry", pyfunc_model_dir(tmp_path / "h", hungry))

    versions = wait_for_checks(["good", "raises", "sleeps", "hungry"])

    good = versions["good"]
    assert good.load_status == "passed", good.load_error
    assert good.load_prediction_shape == [3] and good.load_seconds > 0
    assert versions["raises"].load_status == "failed"
    assert "ValueError: scaler not fitted" in versions["raises"].load_error
    assert versions["sleeps"].load_status == "failed"
    assert "Timed out" in versions["sleeps"].load_error
    assert versions["hungry"].load_status == "failed"
    assert "MemoryError" in versions["hungry"].load_error

    detail = client.get("/api/v1/models/raises/versions/1/").json()["load_check"]
    assert detail["status"] == "failed" and "scaler not fitted" in detail["error"]


def test_a_repeated_delivery_does_not_redo_a_finished_check(
    worker, api_as, alice, sklearn_model_dir
):
    from registry.tasks import check_version_loads

    push(api_as(alice), "good", sklearn_model_dir)
    first = wait_for_checks(["good"])["good"]
    check_version_loads.delay(first.pk)
    time.sleep(2)
    again = ModelVersion.objects.get(pk=first.pk)
    assert again.load_checked_at == first.load_checked_at

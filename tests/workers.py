"""A real `celery worker` on Redis for the tests that need one, and pushing to it.

`start_worker` (a fixture) starts workers and stops them after the test; `push` registers an
MLflow model folder over the API; `wait_for_checks` waits for the worker's load checks.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import LoadCheck, ModelVersion
from tests.conftest import database_url, tar_gz_of

ROOT = Path(__file__).resolve().parent.parent
WORKER_SECRET = f"worker-secret-{uuid.uuid4().hex}"


class CeleryProcess:
    """A real `celery -A vetted …` command (worker or beat, as `make run` starts them) against
    the test database and Redis, in its own process group; its output is read on a thread into
    `log`, so its pipe never fills."""

    def __init__(self, *arguments: str, **env: str):
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "vetted", *arguments],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": os.environ["REDIS_URL"],
                "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
                "MONITORING_QUEUE": settings.MONITORING_QUEUE,
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, which kill() ends whole
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            self.heard(line)

    def heard(self, line: str) -> None:
        """Each line of output as it comes."""


class Worker(CeleryProcess):
    """A real `celery worker` consuming both queues, as `make run`'s does."""

    def __init__(self, purge: bool = True, **env: str):
        self.ready = threading.Event()
        defaults = {
            "SECRET_KEY": WORKER_SECRET,
            "LOAD_CHECK_TIMEOUT_SECONDS": "25",
            "LOAD_CHECK_MEMORY_MB": "2500",
            "SANDBOX_REQUIRED": "true",
            "SANDBOX_FILE_SIZE_MB": "20",
            "SANDBOX_TMP_MB": "64",
        }
        super().__init__(
            "worker",
            *(["--purge"] if purge else []),
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=INFO",
            "-Q",
            f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.MONITORING_QUEUE}",
            **(defaults | env),
        )
        if not self.ready.wait(60):
            self.stop()
            pytest.fail("the worker did not start:\n" + "".join(self.log))

    def heard(self, line: str) -> None:
        if "ready." in line:
            self.ready.set()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def kill(self) -> None:
        """What a machine's crash or the OOM killer does: the worker and its pool, at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def rss_mb(self) -> dict[int, float]:
        """Resident memory of the worker and its pool processes."""
        pids = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == str(self.process.pid):
                pids.append(int(stat.parent.name))
        sizes = {}
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            line = next(line for line in status.splitlines() if line.startswith("VmRSS"))
            sizes[pid] = int(line.split()[1]) / 1024
        return sizes


@pytest.fixture
def start_worker(needs_postgres, needs_redis, transactional_db):
    started = []

    def start(purge: bool = True, **env: str) -> Worker:
        worker = Worker(purge, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(start_worker):
    return start_worker()


def push(client, name: str, folder: Path) -> int:
    response = client.post(
        f"/api/v1/models/{name}/versions/",
        {"team": "fraud", "archive": SimpleUploadedFile("m.tar.gz", tar_gz_of(folder))},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()["version"]


def wait_for_checks(names, timeout=150) -> dict[str, LoadCheck]:
    """The latest check of each named model's first version, once all have finished."""
    deadline = time.monotonic() + timeout
    checks: dict[str, LoadCheck] = {}
    while time.monotonic() < deadline:
        versions = ModelVersion.objects.select_related("model", "latest_load_check")
        checks = {v.model.name: v.latest_load_check for v in versions}
        if all(checks[n].done for n in names):
            return checks
        time.sleep(0.5)
    pytest.fail(f"load checks did not finish: {[(n, checks[n].status) for n in names]}")

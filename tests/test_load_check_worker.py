"""The load check with a real Celery worker on Redis: good models pass, hostile ones get nowhere.

Each hostile model is an MLflow model folder whose loading does one bad thing. Models that probe
report what they found by raising it, so the check's error carries it back to the test.
"""

import json
import socket
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages

from registry.models import Artifact, LoadCheck, ModelVersion
from tests import workers
from tests.conftest import processes_with, pyfunc_model_dir
from tests.workers import ROOT, WORKER_SECRET, push, wait_for_checks

# Fixtures of tests/workers.py: a worker started for the test, or started when the test says.
start_worker = workers.start_worker
worker = workers.worker
REPORTS = """
import json, os
def found(**seen):
    raise ValueError("FOUND " + json.dumps(seen))
"""


def findings(check: LoadCheck) -> dict:
    assert check.status == "failed", check.error
    assert "FOUND " in check.error, check.error
    text = check.error.rsplit("FOUND ", 1)[1]
    return json.JSONDecoder().raw_decode(text)[0]


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
    assert good.status == "passed", good.error
    assert good.prediction_shape == [3] and good.load_seconds > 0
    assert good.isolation.startswith("bubblewrap")
    assert versions["raises"].status == "failed"
    raised = versions["raises"].error
    assert raised.startswith("ValueError: scaler not fitted\n")  # the error first, then where
    assert "/sandbox/" not in raised and "/tmp/" not in raised and "custom_model.py" in raised
    assert versions["sleeps"].status == "failed"
    assert "Timed out" in versions["sleeps"].error
    assert versions["hungry"].status == "failed"
    assert "Memory limit" in versions["hungry"].error

    detail = client.get("/api/v1/models/raises/versions/1/").json()["load_check"]
    assert detail["status"] == "failed" and "scaler not fitted" in detail["error"]
    assert detail["isolation"].startswith("bubblewrap")


def test_hostile_models_get_nowhere_and_the_worker_stays_healthy(
    worker, api_as, alice, sklearn_model_dir, tmp_path
):
    client = api_as(alice)
    push(client, "good", sklearn_model_dir)
    wait_for_checks(["good"])
    stored = Artifact.objects.get(version__model__name="good", path="MLmodel")
    other_teams_file = storages["artifacts"].path(stored.storage_name)
    assert Path(other_teams_file).exists()

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list = []
    listening = threading.Event()
    listening.set()

    def accept() -> None:
        while listening.is_set():
            try:
                accepted.append(listener.accept())
            except (TimeoutError, OSError):
                continue

    threading.Thread(target=accept, daemon=True).start()

    marker = f"vetted-orphan-{uuid.uuid4().hex}"
    escaped = [str(tmp_path / marker), str(settings.VAR_DIR / marker), f"/{marker}"]
    hostile = {
        "snoops": """
import glob
hits = [k for k in os.environ if "SECRET" in k or k.endswith("_URL") and k != "MLFLOW_TRACKING_URI"]
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    if b"SECRET_KEY" in data or b"DATABASE_URL" in data or b"REDIS_URL" in data:
        hits.append(path)
found(hits=hits, uid=os.getuid(), processes=len(glob.glob("/proc/[0-9]*")))
""",
        "connects": f"""
import socket
tried = {{}}
for port in (5432, 6379, 8000, {port}):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        tried[port] = "connected"
    except OSError as exc:
        tried[port] = type(exc).__name__
found(tried=tried)
""",
        "reads": f"""
seen = {{}}
for path in ({other_teams_file!r}, {str(settings.VAR_DIR)!r}, {str(ROOT / "manage.py")!r}):
    try:
        seen[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()[:20]
    except OSError as exc:
        seen[path] = type(exc).__name__
found(seen=seen)
""",
        "writes": f"""
for path in {escaped!r}:
    try:
        open(path, "w").write("x")
    except OSError:
        pass
with open("/tmp/big", "wb") as big:
    for _ in range(40):
        big.write(b"x" * 1024 * 1024)
""",
        "forks": f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}],
                 start_new_session=True)
time.sleep(600)
""",
        "floods": """
import sys
for _ in range(100):
    sys.stdout.write("y" * 1024 * 1024)
""",
        "oversized": """
os.write(int(os.environ["SANDBOX_RESULT_FD"]), b'{"ok": true, "x": "' + b"z" * 10_000_000)
""",
    }
    for name, code in hostile.items():
        push(client, name, pyfunc_model_dir(tmp_path / name, "pass", on_load=REPORTS + code))
    versions = wait_for_checks(list(hostile))
    listening.clear()
    listener.close()

    snoops = findings(versions["snoops"])
    assert snoops["hits"] == [] and snoops["uid"] == 65534 and snoops["processes"] <= 3
    for version in versions.values():
        assert WORKER_SECRET not in version.error

    connects = findings(versions["connects"])
    assert set(connects["tried"].values()) <= {"ConnectionRefusedError", "OSError"}
    assert accepted == []

    reads = findings(versions["reads"])
    assert set(reads["seen"].values()) == {"FileNotFoundError"}, reads

    assert versions["writes"].status == "failed"
    assert versions["writes"].error.startswith("File size limit")
    assert not any(Path(path).exists() for path in escaped)

    assert versions["forks"].error.startswith("Timed out")
    assert processes_with(marker) == []

    assert "printed more than" in versions["floods"].error
    assert "returned more than" in versions["oversized"].error

    # Still healthy: alive, memory bounded, and it checks the next good model as before.
    assert worker.process.poll() is None
    assert max(worker.rss_mb().values()) < 600, worker.rss_mb()
    push(client, "good-after", sklearn_model_dir)
    assert wait_for_checks(["good-after"])["good-after"].status == "passed"


def test_with_debug_off_and_no_sandbox_the_check_errors_and_nothing_runs(
    start_worker, api_as, alice, tmp_path, sklearn_model_dir
):
    unsandboxed = start_worker(SANDBOX_BWRAP="/nonexistent/bwrap")
    ran = tmp_path / "ran"
    model = pyfunc_model_dir(tmp_path / "m", "pass", on_load=f"open({str(ran)!r}, 'w')")
    client = api_as(alice)
    push(client, "unchecked", model)
    push(client, "good", sklearn_model_dir)
    versions = wait_for_checks(["unchecked", "good"])
    for version in versions.values():
        assert version.status == "errored"
        assert version.error.startswith("Sandbox unavailable")
        assert "apt-get install bubblewrap" in version.error
    assert not ran.exists()
    assert any("will NOT run on this worker" in line for line in unsandboxed.log)
    detail = client.get("/api/v1/models/unchecked/versions/1/").json()["load_check"]
    assert detail["status"] == "errored" and detail["isolation"] == ""

    # Once a worker can make the sandbox, beat's periodic task runs the errored checks again.
    unsandboxed.stop()
    start_worker()
    from registry.tasks import requeue_stalled_load_checks

    requeue_stalled_load_checks.delay()
    deadline = time.monotonic() + 60
    while ModelVersion.objects.filter(latest_load_check__status="errored").exists():
        assert time.monotonic() < deadline, "the errored checks were not reopened"
        time.sleep(0.5)
    versions = wait_for_checks(["unchecked", "good"])
    assert versions["good"].status == "passed", versions["good"].error
    assert versions["good"].attempt == 2  # the errored attempt stays, as history
    history = LoadCheck.objects.filter(version=versions["good"].version_id).order_by("attempt")
    assert [c.status for c in history] == ["errored", "passed"]
    assert versions["unchecked"].status == "failed"  # its write is refused in the sandbox
    assert not ran.exists()


def test_for_development_it_falls_back_to_weak_isolation_and_says_so(
    start_worker, api_as, alice, client, sklearn_model_dir
):
    worker = start_worker(SANDBOX_BWRAP="/nonexistent/bwrap", SANDBOX_REQUIRED="false")
    push(api_as(alice), "good", sklearn_model_dir)
    version = wait_for_checks(["good"])["good"]
    assert version.status == "passed", version.error
    assert version.isolation.startswith("weak isolation")
    client.force_login(alice)
    page = client.get("/models/good/versions/1/").content.decode()
    assert "Weakly isolated." in page
    assert any("WEAKLY ISOLATED" in line for line in worker.log), "".join(worker.log)


def test_a_repeated_delivery_does_not_redo_a_finished_check(
    worker, api_as, alice, sklearn_model_dir
):
    from registry.tasks import run_load_check

    push(api_as(alice), "good", sklearn_model_dir)
    first = wait_for_checks(["good"])["good"]
    run_load_check.delay(first.pk)
    time.sleep(2)
    again = LoadCheck.objects.get(pk=first.pk)
    assert again.finished_at == first.finished_at and again.status == "passed"
    assert LoadCheck.objects.count() == 1


def test_a_check_whose_worker_is_killed_is_found_lost_within_seconds_and_runs_again(
    start_worker, api_as, alice, client, tmp_path, settings
):
    from registry.tasks import requeue_stalled_load_checks

    settings.LOAD_CHECK_HEARTBEAT_SECONDS = 1  # beat's task runs here: lost after 3 silent s
    # The model hangs only on the first worker, told apart by the CPU limit each gives it.
    hangs_on_first = (
        "import resource, time\n"
        "if resource.getrlimit(resource.RLIMIT_CPU)[0] == 30:\n"
        "    time.sleep(600)"
    )
    first = start_worker(LOAD_CHECK_HEARTBEAT_SECONDS="1", LOAD_CHECK_TIMEOUT_SECONDS="30")
    api = api_as(alice)
    push(api, "hangs", pyfunc_model_dir(tmp_path / "m", "pass", on_load=hangs_on_first))
    deadline = time.monotonic() + 60
    while LoadCheck.objects.get().status != "running":
        assert time.monotonic() < deadline, "the check never started"
        time.sleep(0.2)
    running = LoadCheck.objects.get()
    while (running.heartbeat_at - running.started_at).total_seconds() < 4:
        assert time.monotonic() < deadline, "the worker does not beat while the model runs"
        requeue_stalled_load_checks()  # beat leaves a check whose worker beats alone
        time.sleep(0.5)
        running.refresh_from_db()
        assert running.status == "running", running.error

    first.kill()
    deadline = time.monotonic() + 90
    while LoadCheck.objects.count() < 2:  # beat's task, as beat calls it every heartbeat
        assert time.monotonic() < deadline, "the lost check was not found"
        requeue_stalled_load_checks()
        time.sleep(0.5)

    lost, again = LoadCheck.objects.order_by("attempt")
    assert lost.status == "errored"
    assert lost.error.startswith("The worker stopped answering during the check (last heard")
    assert lost.error.endswith("); checking again.")
    assert again.status == "pending" and again.attempt == 2
    detail = api.get("/api/v1/models/hangs/versions/1/").json()["load_check"]
    assert detail["attempt"] == 2 and detail["status"] == "pending"
    assert detail["reason"].startswith("attempt 1 was lost: its worker stopped answering")
    client.force_login(alice)
    page = client.get("/models/hangs/versions/1/").content.decode()
    assert "Load check queued" in page and 'hx-trigger="every 2s"' in page  # it updates itself
    assert "<strong>Attempt 2.</strong> Attempt 1 was lost: its worker stopped answering" in page
    assert "The worker stopped answering during the check" in page  # under earlier attempts

    start_worker(purge=False)  # the new attempt waits in the queue
    checked = wait_for_checks(["hangs"], timeout=90)["hangs"]
    assert checked.attempt == 2 and checked.status == "passed", checked.error
    assert LoadCheck.objects.count() == 2

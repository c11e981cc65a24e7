"""The sandbox, attacked directly: each script does one bad thing and must get nowhere.

The worker-level tests (test_load_check_worker.py) push hostile MLflow models through the API;
these run hostile scripts through `run_script()` to check every guarantee and its limit quickly.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from sandbox.runner import Limits, Outcome, detect_isolation, run_script, workspace
from tests.conftest import processes_with

ROOT = Path(__file__).resolve().parent.parent
LIMITS = Limits(
    wall_seconds=15,
    cpu_seconds=10,
    memory_mb=1024,
    tmp_mb=16,
    file_size_mb=8,
    processes=32,
    output_kb=256,
    result_kb=16,
)
REPORT = """
import json, os
def report(**found):
    with os.fdopen(int(os.environ["SANDBOX_RESULT_FD"]), "w") as channel:
        channel.write(json.dumps(found))
"""


@pytest.fixture
def isolation(needs_bubblewrap):
    return needs_bubblewrap


def run(isolation, tmp_path, code: str, limits: Limits = LIMITS, model_files=None):
    script = tmp_path / f"entry-{uuid.uuid4().hex}.py"
    script.write_text(REPORT + textwrap.dedent(code))
    with workspace() as ws:
        for name, content in (model_files or {"MLmodel": "flavors: {}\n"}).items():
            (ws.model_dir / name).write_text(content)
        return run_script(ws, script=script, limits=limits, iso=isolation)


def test_a_well_behaved_script_returns_its_result(isolation, tmp_path):
    done = run(isolation, tmp_path, 'report(files=os.listdir(__import__("sys").argv[1]))')
    assert done.outcome == Outcome.OK, done.error
    assert done.result == {"files": ["MLmodel"]}
    assert done.isolation.startswith("bubblewrap")


def test_it_runs_as_an_unprivileged_user_inside_and_outside(isolation, tmp_path):
    done = run(
        isolation,
        tmp_path,
        """
        import time
        status = open("/proc/self/status").read()
        caps = [l.split()[1] for l in status.splitlines() if l.startswith("CapEff")]
        open("/tmp/mine", "w").write("x")
        report(uid=os.getuid(), gid=os.getgid(), euid=os.geteuid(), caps=caps,
               groups=os.getgroups(), owner=os.stat("/tmp/mine").st_uid)
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    found = done.result
    assert found["uid"] == found["euid"] == found["gid"] == 65534
    assert found["caps"] == ["0000000000000000"] and found["groups"] in ([], [65534])
    if os.geteuid() == 0:  # as root, the sandbox drops to 65534 outside its namespaces too
        assert isolation.drop_to_sandbox_user


def test_it_sees_no_secret_of_the_worker(isolation, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "worker-secret-4711")
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1/vetted")
    done = run(
        isolation,
        tmp_path,
        """
        import glob
        environs = {}
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                environs[path] = open(path, "rb").read().decode(errors="replace")
            except OSError as exc:
                environs[path] = repr(exc)
        report(env=dict(os.environ), environs=environs, pids=sorted(os.listdir("/proc")))
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    text = json.dumps(done.result)
    assert "worker-secret-4711" not in text and "hunter2" not in text
    assert set(done.result["env"]) <= {
        "PATH", "HOME", "TMPDIR", "USER", "LANG", "PWD", "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MLFLOW_TRACKING_URI", "SANDBOX_RESULT_FD",
        "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    }  # fmt: skip
    # Its own PID namespace: the worker (our pytest process) is not there to read.
    assert str(os.getpid()) not in [p.split("/")[2] for p in done.result["environs"]]
    assert len([p for p in done.result["pids"] if p.isdigit()]) <= 3


def test_no_network_reaches_loopback_services(isolation, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted = []

    def accept() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                accepted.append(listener.accept())
            except TimeoutError:
                continue

    watcher = threading.Thread(target=accept)
    watcher.start()
    done = run(
        isolation,
        tmp_path,
        f"""
        import socket
        tried = {{}}
        for port in (5432, 6379, 8000, {port}):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                tried[port] = "connected"
            except OSError as exc:
                tried[port] = str(exc)
        try:
            socket.getaddrinfo("pypi.org", 443)
            tried["dns"] = "resolved"
        except OSError as exc:
            tried["dns"] = str(exc)
        report(tried=tried)
        """,
    )
    watcher.join()
    listener.close()
    assert done.outcome == Outcome.OK, done.error
    assert accepted == []
    assert all(outcome != "connected" for outcome in done.result["tried"].values())
    assert done.result["tried"]["dns"] != "resolved"


def test_it_cannot_see_the_project_var_or_storage(isolation, tmp_path, settings):
    secret_file = Path(settings.STORAGES["artifacts"]["OPTIONS"]["location"]) / "other-team.bin"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text("team fraud's weights")
    targets = [str(secret_file), str(settings.VAR_DIR), str(ROOT / "manage.py"), str(ROOT)]
    targets += [str(ROOT / ".env.example"), "/root", "/home", "/var", "/etc/shadow"]
    done = run(
        isolation,
        tmp_path,
        f"""
        seen = {{}}
        for path in {targets!r}:
            try:
                seen[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()
            except OSError as exc:
                seen[path] = type(exc).__name__
        report(seen=seen)
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    seen = done.result["seen"]
    assert "team fraud's weights" not in json.dumps(seen)
    for path in (str(secret_file), str(settings.VAR_DIR), str(ROOT / "manage.py"), "/var"):
        assert seen[path] == "FileNotFoundError", (path, seen[path])
    # ROOT's folder exists only to hold the read-only virtualenv bound inside it, if it is there.
    assert seen[str(ROOT)] in ("FileNotFoundError", [".venv"])


def test_writes_stay_inside_and_a_big_file_meets_the_file_size_limit(isolation, tmp_path):
    marker = f"escaped-{uuid.uuid4().hex}"
    outside = tmp_path / marker
    done = run(
        isolation,
        tmp_path,
        f"""
        import sys
        tried = {{}}
        for path in ({str(outside)!r}, "/{marker}", "/usr/{marker}", "/var/tmp/{marker}",
                     sys.argv[1] + "/{marker}"):
            try:
                open(path, "w").write("x")
                tried[path] = "written"
            except OSError as exc:
                tried[path] = type(exc).__name__
        try:
            with open("/tmp/big", "wb") as big:
                for _ in range(12):
                    big.write(b"x" * 1024 * 1024)
            tried["big"] = "written"
        except OSError as exc:
            tried["big"] = str(exc)
        report(tried=tried)
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    assert not outside.exists() and not Path(f"/{marker}").exists()
    assert "written" not in [v for k, v in done.result["tried"].items() if k != "big"]
    assert "File too large" in done.result["tried"]["big"]


def test_the_private_tmp_is_bounded_in_size(isolation, tmp_path):
    done = run(
        isolation,
        tmp_path,
        """
        written = 0
        try:
            for n in range(40):  # files of 6 MB, under the 8 MB file limit, past the 16 MB tmp
                with open(f"/tmp/part{n}", "wb") as part:
                    part.write(b"x" * 6 * 1024 * 1024)
                written += 6
        except OSError as exc:
            report(written=written, error=str(exc))
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    assert done.result["written"] <= 16 and "No space left" in done.result["error"]


def test_a_fork_bomb_meets_the_process_limit(isolation, tmp_path):
    done = run(
        isolation,
        tmp_path,
        """
        import time
        children = 0
        try:
            for _ in range(500):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
        except OSError as exc:
            report(children=children, error=str(exc))
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    assert done.result["children"] < 500
    assert "Resource temporarily unavailable" in done.result["error"]


def test_a_hang_with_children_times_out_and_leaves_no_process(isolation, tmp_path):
    marker = f"vetted-orphan-{uuid.uuid4().hex}"
    limits = Limits(**{**LIMITS.__dict__, "wall_seconds": 3})
    started = time.monotonic()
    done = run(
        isolation,
        tmp_path,
        f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}],
                         start_new_session=True)
        if os.fork() == 0:  # a daemon, double-forked and in its own session
            os.setsid()
            if os.fork() == 0:
                sleeper = [sys.executable, "-c", "import time; time.sleep(600)", {marker!r}]
                os.execv(sys.executable, sleeper)
            os._exit(0)
        time.sleep(600)
        """,
        limits=limits,
    )
    assert done.outcome == Outcome.FAILED
    assert done.error.startswith("Timed out")
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    assert processes_with(marker) == []


def test_when_the_worker_dies_the_whole_tree_goes_with_it(isolation, tmp_path):
    marker = f"vetted-orphan-{uuid.uuid4().hex}"
    script = tmp_path / "hang.py"
    script.write_text(
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}],"
        " start_new_session=True)\n"
        "time.sleep(600)\n"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path\n"
            "from sandbox.runner import Limits, detect_isolation, run_script, workspace\n"
            "with workspace() as ws:\n"
            "    run_script(ws, script=Path(sys.argv[1]), iso=detect_isolation('bwrap'),\n"
            "               limits=Limits(wall_seconds=120, cpu_seconds=120, memory_mb=1024))\n",
            str(script),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker), "the sandboxed child never started"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []


def test_memory_past_the_limit_is_a_memory_error(isolation, tmp_path):
    done = run(
        isolation,
        tmp_path,
        """
        try:
            block = bytearray(2 * 1024 ** 3)
            report(allocated=len(block))
        except MemoryError:
            report(error="MemoryError")
        """,
    )
    assert done.outcome == Outcome.OK, done.error
    assert done.result == {"error": "MemoryError"}


def test_cpu_time_past_the_limit_ends_the_run(isolation, tmp_path):
    limits = Limits(**{**LIMITS.__dict__, "cpu_seconds": 1})
    done = run(isolation, tmp_path, "while True:\n    pass\n", limits=limits)
    assert done.outcome == Outcome.FAILED
    assert "CPU time limit" in done.error


def test_a_flood_of_output_is_stopped_and_not_kept(isolation, tmp_path):
    done = run(
        isolation,
        tmp_path,
        """
        import sys
        chunk = "y" * 1024 * 1024
        for _ in range(100):
            sys.stdout.write(chunk)
        report(flooded=True)
        """,
    )
    assert done.outcome == Outcome.FAILED
    assert "printed more than 256 KB" in done.error
    assert len(done.output_tail) <= 8192


def test_a_result_too_large_is_refused(isolation, tmp_path):
    done = run(
        isolation,
        tmp_path,
        """
        fd = int(os.environ["SANDBOX_RESULT_FD"])
        os.write(fd, b'{"x": "' + b"z" * 10 * 1024 * 1024 + b'"}')
        """,
    )
    assert done.outcome == Outcome.FAILED
    assert "returned more than 16 KB of results" in done.error


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2, 3]", b'{"unterminated": ', b"\xff\xfe"])
def test_a_result_that_is_not_a_json_object_is_a_failure(isolation, tmp_path, payload):
    done = run(
        isolation,
        tmp_path,
        f'os.write(int(os.environ["SANDBOX_RESULT_FD"]), {payload!r})\n',
    )
    assert done.outcome == Outcome.FAILED
    assert "not a JSON object" in done.error


def test_without_bubblewrap_and_without_weak_allowed_nothing_runs(tmp_path):
    iso = detect_isolation("no-such-bwrap", allow_weak=False)
    assert iso.kind == "unavailable" and "apt-get install bubblewrap" in iso.problem
    ran = tmp_path / "ran"
    done = run(iso, tmp_path, f"open({str(ran)!r}, 'w').write('x')\nreport(ran=True)\n")
    assert done.outcome == Outcome.ERRORED
    assert done.error.startswith("Sandbox unavailable") and "DEBUG" in done.error
    assert not ran.exists()


def test_weak_isolation_still_cleans_the_environment_and_limits(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "worker-secret-4711")
    iso = detect_isolation("no-such-bwrap", allow_weak=True)
    assert iso.kind == "weak" and iso.description.startswith("weak isolation")
    done = run(iso, tmp_path, "report(env=dict(os.environ))\n")
    assert done.outcome == Outcome.OK, done.error
    assert "worker-secret-4711" not in json.dumps(done.result)
    assert done.isolation.startswith("weak isolation")
    flood = run(iso, tmp_path, "import sys\nsys.stdout.write('y' * 1024 * 1024)\n")
    assert flood.outcome == Outcome.FAILED and "printed more than" in flood.error

"""Run one script over a private copy of a model's files, in bubblewrap, and read its one result.

What the script gets: the Python environment read-only, its workspace's `model/` and `inputs/`
read-only, an `outputs/` folder it may write (files bounded by the file-size limit, read by the
caller once it has ended), a private `/tmp` of bounded size, a clean environment, user 65534, no
network, its own PID namespace and limits on wall time, CPU, memory, file size, processes and
output. It returns one JSON object on the file descriptor named by `SANDBOX_RESULT_FD`; that
and the files in `outputs/` are all that comes out. Vetted's own probes are run with
`run_probe()`: they only compute, and entry.py beside them sends their answer or their error.

Two ways to make that with bubblewrap, tried in order when the isolation is first needed:
- as root (a host or VM): namespaces without a user namespace, then `setpriv` drops to uid 65534,
  so outside the sandbox too the processes belong to an unprivileged user;
- as any other user (the Docker image): a user namespace maps the caller to 65534 inside.
Without bubblewrap, `weak` isolation is only offered for development (DEBUG on): clean
environment, limits, own process group, and user 65534 when running as root.
"""

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

SANDBOX_UID = 65534
INSIDE = Path("/sandbox")
ENTRY = Path(__file__).resolve().with_name("entry.py")  # what runs a probe inside
PROBE = "probe.py"  # the probe's name beside it
PASSWD = "root:x:0:0::/:/usr/sbin/nologin\nsandbox:x:65534:65534::/tmp:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nsandbox:x:65534:\n"
TAIL_BYTES = 8192
# Passed through when set: they keep old OpenBLAS builds from crashing on some processors.
PASSED_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Limits:
    wall_seconds: int
    cpu_seconds: int
    memory_mb: int
    tmp_mb: int = 256
    file_size_mb: int = 100
    processes: int = 128
    output_kb: int = 1024
    result_kb: int = 64


class Outcome(StrEnum):
    OK = "ok"  # the script ran to the end and returned a result
    FAILED = "failed"  # the model's code misbehaved: a limit, a crash, no or a bad result
    ERRORED = "errored"  # no sandbox could be made: nothing of the model ran


@dataclass
class SandboxRun:
    outcome: Outcome
    isolation: str
    result: dict | None = None
    error: str = ""
    output_tail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Isolation:
    """What this process can make; `argv` builds the command for one run."""

    kind: str  # "bubblewrap", "weak" or "unavailable"
    description: str
    problem: str = ""  # why bubblewrap could not be used, said to the person who must fix it
    bwrap: str = ""
    drop_to_sandbox_user: bool = False  # root: setpriv inside; otherwise a user namespace
    tools: dict[str, str] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.kind != "unavailable"


# Workspaces are made in the system's temporary folder under this prefix; one left by a killed
# worker is deleted later by the registry's sweep_debris().
WORKSPACE_PREFIX = "vetted-sandbox-"


class Workspace:
    """A private folder for one run: the caller copies the model into `model_dir` and what it
    reads into `inputs_dir`, and reads what the script wrote from `outputs_dir` after the run."""

    def __init__(self, root: Path):
        self.root = root
        self.model_dir = root / "model"
        self.inputs_dir = root / "inputs"
        self.outputs_dir = root / "outputs"
        self.tmp_dir = root / "tmp"  # the writable folder under weak isolation only
        for folder in (self.model_dir, self.inputs_dir, self.outputs_dir, self.tmp_dir):
            folder.mkdir()


@contextmanager
def workspace() -> Iterator[Workspace]:
    # 0711: other users may pass through (weak isolation as 65534) but cannot list it.
    root = Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX))
    root.chmod(0o711)
    try:
        yield Workspace(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- What can be made here ----------------------------------------------------------------------


def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    return sorted(r for r in roots if not r.startswith("/usr/"))


def _parent_dirs(destinations: list[str]) -> list[str]:
    """`--dir` for the folders above each bind: bwrap would make them 0700, unreadable to 65534."""
    parents = {str(p) for d in destinations for p in Path(d).parents if str(p) != "/"}
    args: list[str] = []
    for folder in sorted(parents, key=lambda p: (p.count("/"), p)):
        args += ["--perms", "0755", "--dir", folder]
    return args


def _binds(ws: Workspace | None) -> list[str]:
    """The filesystem inside: system and Python read-only, the workspace's files read-only."""
    links: list[str] = []
    binds: list[tuple[str, str, str]] = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            links += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            binds.append(("--ro-bind", str(path), str(path)))
    for etc in ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"):
        binds.append(("--ro-bind-try", etc, etc))
    for root in _python_roots():
        binds.append(("--ro-bind", root, root))
    if ws is not None:
        binds.append(("--ro-bind", str(ws.root / "passwd"), "/etc/passwd"))
        binds.append(("--ro-bind", str(ws.root / "group"), "/etc/group"))
        binds.append(("--ro-bind", str(ws.root / "entry.py"), str(INSIDE / "entry.py")))
        if (ws.root / PROBE).exists():
            binds.append(("--ro-bind", str(ws.root / PROBE), str(INSIDE / PROBE)))
        binds.append(("--ro-bind", str(ws.model_dir), str(INSIDE / "model")))
        binds.append(("--ro-bind", str(ws.inputs_dir), str(INSIDE / "inputs")))
        binds.append(("--bind", str(ws.outputs_dir), str(INSIDE / "outputs")))
    args = [*links, *_parent_dirs([dest for _, _, dest in binds])]
    for option, source, dest in binds:
        args += [option, source, dest]
    return args


def _bwrap_argv(
    iso: Isolation, ws: Workspace | None, env: dict[str, str], tmp_mb: int
) -> list[str]:
    if iso.drop_to_sandbox_user:
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        namespaces += ["--unshare-cgroup-try"]
    else:
        namespaces = ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534"]
    argv = [iso.bwrap, *namespaces, "--die-with-parent", "--new-session", "--clearenv"]
    # /tmp first: a Python environment under /tmp (a checkout there) is bound on top of it.
    tmp_bytes = str(tmp_mb * 1024 * 1024)
    argv += ["--hostname", "sandbox", "--perms", "1777", "--size", tmp_bytes, "--tmpfs", "/tmp"]
    argv += [*_binds(ws), "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    return [*argv, "--remount-ro", "/", "--"]


def _drop_argv(iso: Isolation) -> list[str]:
    return [
        iso.tools["setpriv"],
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_UID}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def _readable_by_others(path: str) -> bool:
    """Whether uid 65534 can reach `path`: every folder above it searchable by others."""
    parts = Path(path).resolve().parents
    return all(os.stat(p).st_mode & 0o001 for p in parts) and bool(os.stat(path).st_mode & 0o005)


def _try_bwrap(iso: Isolation) -> str:
    """An empty string when a trivial script runs in this arrangement, else what went wrong."""
    argv = _bwrap_argv(iso, None, {"PATH": "/usr/bin:/bin"}, tmp_mb=1)
    if iso.drop_to_sandbox_user:
        argv += _drop_argv(iso)
    argv += [sys.executable, "-I", "-c", "import os; assert os.getuid() != 0"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return ""
    return done.stderr.decode(errors="replace").strip()[-600:] or f"exit code {done.returncode}"


_found: dict[tuple[str, bool], Isolation] = {}


def detect_isolation(bwrap: str = "bwrap", allow_weak: bool = False) -> Isolation:
    """The strongest isolation this process can make: bubblewrap once found is kept, anything
    less is looked for again next time, so installing bubblewrap needs no restart."""
    key = (bwrap, allow_weak)
    if key not in _found:
        iso = _detect_isolation(bwrap, allow_weak)
        if iso.kind == "bubblewrap":
            _found[key] = iso
        return iso
    return _found[key]


def _detect_isolation(bwrap: str, allow_weak: bool) -> Isolation:
    tools = {name: shutil.which(name) or "" for name in ("prlimit", "setpriv")}
    as_root = os.geteuid() == 0
    missing = [name for name in ("prlimit", *(["setpriv"] if as_root else [])) if not tools[name]]
    problem = ""
    bwrap_path = shutil.which(bwrap) or ""
    if missing:
        problem = f"{' and '.join(missing)} (Debian package util-linux) not found on PATH."
    elif not bwrap_path:
        problem = (
            f"bubblewrap ({bwrap!r}) is not installed. Install it: `apt-get install bubblewrap`."
        )
    else:
        tries = [True, False] if as_root else [False]
        failures = []
        for drop in tries:
            iso = Isolation(
                kind="bubblewrap",
                description=(
                    "bubblewrap: no network, own PID/mount/IPC namespaces, user 65534"
                    + ("" if drop else " in a user namespace")
                    + ", read-only Python environment, private /tmp, resource limits"
                ),
                bwrap=bwrap_path,
                drop_to_sandbox_user=drop,
                tools=tools,
            )
            failure = _try_bwrap(iso)
            if not failure:
                return iso
            failures.append(failure)
        problem = (
            f"bubblewrap is installed but cannot create its namespaces here: {failures[-1]} "
            "On a host, run the worker as root or allow unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1); in Docker, give the worker the "
            "security_opt of docker-compose.yml."
        )
    if not allow_weak or missing:
        return Isolation(kind="unavailable", description="", problem=problem, tools=tools)
    drop = as_root and _readable_by_others(sys.executable) and bool(tools["setpriv"])
    how = "user 65534" if drop else ("root" if as_root else "the worker's own user")
    return Isolation(
        kind="weak",
        description=(
            "weak isolation (no bubblewrap; allowed because DEBUG is on): clean environment, "
            f"resource limits, own process group, runs as {how}, network and files reachable"
        ),
        problem=problem,
        drop_to_sandbox_user=drop,
        tools=tools,
    )


# --- One run -------------------------------------------------------------------------------------


def _environment(paths_root: Path, result_fd: int) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(paths_root),
        "TMPDIR": str(paths_root),
        "USER": "sandbox",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": f"file://{paths_root}/mlruns",
        "SANDBOX_RESULT_FD": str(result_fd),
    }
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    return env


def _limit_argv(iso: Isolation, limits: Limits, uid: int) -> list[str]:
    # RLIMIT_NPROC counts every task of the uid on the machine, so it starts from today's count.
    processes = limits.processes + _tasks_of_uid(uid)
    return [
        iso.tools["prlimit"],
        f"--as={limits.memory_mb * 1024 * 1024}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_size_mb * 1024 * 1024}",
        f"--nproc={processes}",
        "--core=0",
        "--nofile=1024",
        "--",
    ]


def _tasks_of_uid(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/task/[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid_line = next((line for line in text.splitlines() if line.startswith("Uid:")), "")
        if uid_line.split()[1:2] == [str(uid)]:
            count += 1
    return count


def _command(iso: Isolation, ws: Workspace, limits: Limits, result_fd: int) -> list[str]:
    if iso.kind == "bubblewrap":
        argv = _bwrap_argv(iso, ws, _environment(Path("/tmp"), result_fd), limits.tmp_mb)
        folder = INSIDE
    else:
        argv = []
        folder = ws.root
    uid = SANDBOX_UID if iso.drop_to_sandbox_user else os.getuid()
    argv += _limit_argv(iso, limits, uid)
    if iso.drop_to_sandbox_user:
        argv += _drop_argv(iso)
    script = str(folder / "entry.py")
    return [
        *argv,
        sys.executable,
        "-I",
        "-B",
        script,
        str(folder / "model"),
        str(folder / "inputs"),
        str(folder / "outputs"),
    ]


def _prepare(ws: Workspace, script: Path, iso: Isolation) -> None:
    (ws.root / "passwd").write_text(PASSWD)
    (ws.root / "group").write_text(GROUP)
    shutil.copyfile(script, ws.root / "entry.py")
    for path in [ws.root, *ws.root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o711 if path == ws.root else 0o755)
        else:
            path.chmod(0o644)
    if iso.drop_to_sandbox_user:  # in a user namespace the caller is 65534 inside already
        os.chown(ws.outputs_dir, SANDBOX_UID, SANDBOX_UID)
    if iso.kind == "weak" and iso.drop_to_sandbox_user:
        os.chown(ws.tmp_dir, SANDBOX_UID, SANDBOX_UID)
        ws.tmp_dir.chmod(0o700)


def run_script(
    ws: Workspace,
    *,
    script: Path,
    limits: Limits,
    iso: Isolation,
    while_running: Callable[[], None] | None = None,
) -> SandboxRun:
    """Run `script MODEL_DIR INPUTS_DIR OUTPUTS_DIR` in the sandbox and return its one JSON
    result; files it wrote to OUTPUTS_DIR are in `ws.outputs_dir` until the workspace ends.

    `while_running` is called on this thread at least every half second while the script runs:
    the caller's chance to say it is still alive (a heartbeat) without a thread of its own.
    """
    if not iso.available:
        return SandboxRun(
            outcome=Outcome.ERRORED,
            isolation="unavailable",
            error=f"Sandbox unavailable: {iso.problem} Model code is not run without it "
            "while DEBUG is off.",
        )
    _prepare(ws, script, iso)
    result_read, result_write = os.pipe()
    argv = _command(iso, ws, limits, result_write)
    # Under bubblewrap the environment is set inside (--clearenv, --setenv).
    env = _environment(ws.tmp_dir, result_write) if iso.kind == "weak" else {}
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(result_write,),
            env=env,
            cwd=ws.tmp_dir,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(result_read)
        os.close(result_write)
        return SandboxRun(
            outcome=Outcome.ERRORED, isolation=iso.kind, error=f"Sandbox unavailable: {exc}"
        )
    os.close(result_write)
    try:
        stopped, result, tail = _collect(process, result_read, limits, started, while_running)
    finally:
        os.close(result_read)
        _kill(process)
    run = SandboxRun(
        outcome=Outcome.FAILED,
        isolation=iso.description,
        output_tail=tail,
        seconds=round(time.monotonic() - started, 3),
    )
    if stopped:
        run.error = stopped
        return run
    if not result:
        run.error = f"The model process {_how_it_ended(process.returncode, limits)}.\n{tail}"
        run.error = run.error.strip()
        return run
    try:
        parsed = json.loads(result)
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        run.error = "The model process returned a result that is not a JSON object."
        return run
    run.outcome = Outcome.OK
    run.result = parsed
    return run


def run_probe(
    ws: Workspace,
    *,
    probe: Path,
    limits: Limits,
    iso: Isolation,
    while_running: Callable[[], None] | None = None,
) -> SandboxRun:
    """Run a probe's `run(model_dir, inputs_dir, outputs_dir) -> dict` in the sandbox, as
    run_script does a script: the result is its dict, or `{"ok": false, "error": ...}` with what
    it raised (ENTRY says so)."""
    shutil.copyfile(probe, ws.root / PROBE)
    return run_script(ws, script=ENTRY, limits=limits, iso=iso, while_running=while_running)


def _collect(
    process: subprocess.Popen,
    result_fd: int,
    limits: Limits,
    started: float,
    while_running: Callable[[], None] | None,
) -> tuple[str, bytes, str]:
    """Read output and result within the limits: (why it was stopped or "", result, output tail)."""
    assert process.stdout is not None and process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout.fileno(), selectors.EVENT_READ, "output")
    selector.register(process.stderr.fileno(), selectors.EVENT_READ, "output")
    selector.register(result_fd, selectors.EVENT_READ, "result")
    result = bytearray()
    tail = bytearray()
    printed = 0
    deadline = started + limits.wall_seconds
    exited_at = None
    try:
        while selector.get_map():
            if while_running is not None:
                while_running()
            now = time.monotonic()
            if now >= deadline:
                return _timed_out(limits), bytes(result), _text(tail)
            if process.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > 2:  # a child left behind still holds a pipe open
                    break
            for key, _ in selector.select(timeout=min(deadline - now, 0.5)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                elif key.data == "result":
                    result += chunk
                    if len(result) > limits.result_kb * 1024:
                        why = f"The model process returned more than {limits.result_kb} KB"
                        return f"{why} of results.", b"", _text(tail)
                else:
                    printed += len(chunk)
                    tail = (tail + chunk)[-TAIL_BYTES:]
                    if printed > limits.output_kb * 1024:
                        why = f"The model process printed more than {limits.output_kb} KB"
                        return f"{why} of output.", b"", _text(tail)
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return _timed_out(limits), bytes(result), _text(tail)
    finally:
        selector.close()
    return "", bytes(result), _text(tail)


def _timed_out(limits: Limits) -> str:
    return f"Timed out: the model's code ran for more than {limits.wall_seconds} s."


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode(errors="replace").strip()


def _kill(process: subprocess.Popen) -> None:
    """End the run and everything it started: bwrap's namespace ends with it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.kill()
    process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _how_it_ended(returncode: int, limits: Limits) -> str:
    # bubblewrap reports a child killed by a signal as 128 + the signal.
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number == signal.SIGXCPU:
        return f"used more than its {limits.cpu_seconds} s of CPU time (CPU time limit)"
    if number == signal.SIGXFSZ:
        return f"wrote a file larger than {limits.file_size_mb} MB (file size limit)"
    if number == signal.SIGKILL:
        return f"was killed (memory limit {limits.memory_mb} MB or CPU time limit)"
    if number:
        return f"was killed by signal {signal.Signals(number).name}"
    return f"exited with code {returncode} without a result (memory limit {limits.memory_mb} MB)"


def explain_limit(error: str, limits: Limits) -> str:
    """A first line naming the limit an error from the model's own code ran into, if any."""
    if "[Errno 27]" in error or "File too large" in error:
        return f"File size limit: the model wrote a file larger than {limits.file_size_mb} MB."
    if "[Errno 28]" in error or "No space left on device" in error:
        return f"Temporary space limit: the model filled its {limits.tmp_mb} MB of /tmp."
    if "MemoryError" in error:
        return f"Memory limit: the model needs more than {limits.memory_mb} MB."
    if "Resource temporarily unavailable" in error and "fork" in error.lower():
        return f"Process limit: the model started more than {limits.processes} processes."
    return ""

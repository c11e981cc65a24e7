"""The load check: fetch a version's files and run the probe in a limited child process."""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .models import ModelVersion
from .services import NO_MLMODEL_ERROR, artifact_storage


@dataclass
class LoadCheckResult:
    passed: bool
    seconds: float | None = None
    shape: list[int] | None = None
    error: str = ""


def _limit_child(memory_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        os.setsid()

    return apply


def run_probe(model_dir: Path) -> LoadCheckResult:
    timeout = settings.LOAD_CHECK_TIMEOUT_SECONDS
    memory_mb = settings.LOAD_CHECK_MEMORY_MB
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(model_dir),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": f"file://{model_dir}/.mlruns",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "registry.load_probe", str(model_dir)],
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=model_dir,
            preexec_fn=_limit_child(memory_mb * 1024 * 1024),  # noqa: PLW1509
        )
    except subprocess.TimeoutExpired:
        return LoadCheckResult(
            passed=False, error=f"Timed out: loading and predicting took more than {timeout} s."
        )
    lines = [line for line in done.stdout.decode(errors="replace").splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        stderr = done.stderr.decode(errors="replace").strip()[-4000:]
        how = (
            f"was killed by signal {-done.returncode}"
            if done.returncode < 0
            else (f"exited with code {done.returncode}")
        )
        return LoadCheckResult(
            passed=False,
            error=f"The model process {how} (memory limit {memory_mb} MB).\n{stderr}".strip(),
        )
    if not report.get("ok"):
        return LoadCheckResult(passed=False, error=report.get("error", "unknown error"))
    return LoadCheckResult(
        passed=True,
        seconds=report["load_seconds"] + report["predict_seconds"],
        shape=report["prediction_shape"],
    )


def check_version(version: ModelVersion) -> LoadCheckResult:
    artifacts = list(version.artifacts.all())
    if not any(a.path == "MLmodel" for a in artifacts):
        return LoadCheckResult(passed=False, error=NO_MLMODEL_ERROR)  # versions registered earlier
    storage = artifact_storage()
    folder = Path(tempfile.mkdtemp(prefix="vetted-load-"))
    try:
        for artifact in artifacts:
            target = folder / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(artifact.storage_name, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        return run_probe(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

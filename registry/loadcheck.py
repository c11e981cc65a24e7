"""The load check: copy a version's files into a sandbox workspace and run the probe there."""

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sandbox import config
from sandbox.runner import INSIDE, Limits, Outcome, explain_limit, run_probe, workspace

from . import services
from .models import LoadCheck, LoadStatus

PROBE = Path(__file__).resolve().parent / "load_probe.py"
logger = logging.getLogger(__name__)


@dataclass
class LoadCheckResult:
    status: str  # a LoadStatus: passed, failed or errored
    seconds: float | None = None
    shape: list[int] | None = None
    error: str = ""
    isolation: str = ""


SITE_PACKAGES = re.compile(r"/\S*?/site-packages/")
WEAK_WORKSPACE = re.compile(r"/\S*?/vetted-sandbox-[^/\s]+/(model/)?")  # without bubblewrap


def _readable(traceback: str) -> str:
    """The exception's own line first, then the traceback, with paths relative to the model
    folder or to site-packages: the reader wants the error, not the sandbox's layout."""
    text = traceback.replace(f"{INSIDE}/model/", "").replace(f"{INSIDE}/", "")
    text = WEAK_WORKSPACE.sub("", SITE_PACKAGES.sub("site-packages/", text))
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return text.strip()
    return f"{lines[-1].strip()}\n\n{text.strip()}"


def _report(report: dict, limits: Limits, isolation: str) -> LoadCheckResult:
    """The probe's answer, read defensively: the model's code could have written anything."""
    if report.get("ok") is not True:
        error = _readable(str(report.get("error") or "The model process reported an error."))
        hint = explain_limit(error, limits)
        return LoadCheckResult(
            status=LoadStatus.FAILED,
            error=f"{hint}\n{error}" if hint else error,
            isolation=isolation,
        )
    try:
        seconds = float(report["load_seconds"]) + float(report["predict_seconds"])
        shape = [int(d) for d in report["prediction_shape"]][:32]
    except (KeyError, TypeError, ValueError):
        return LoadCheckResult(
            status=LoadStatus.FAILED,
            error="The model process returned a result without timings and shape.",
            isolation=isolation,
        )
    return LoadCheckResult(
        status=LoadStatus.PASSED, seconds=round(seconds, 3), shape=shape, isolation=isolation
    )


class Heartbeat:
    """Called as often as the caller likes; tells the database at most every
    LOAD_CHECK_HEARTBEAT_SECONDS that this worker still runs the check, so a check whose worker
    died is found within a few beats."""

    def __init__(self, check_id: int):
        self.check_id = check_id
        self.every = settings.LOAD_CHECK_HEARTBEAT_SECONDS
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            services.record_load_check_heartbeat(check_id=self.check_id)


def check_version(check: LoadCheck) -> LoadCheckResult:
    """Run one claimed check: copy the version's files, run the probe, read its answer; the
    worker beats while it copies and while the probe runs."""
    version = check.version
    artifacts = list(version.artifacts.all())
    if not any(a.path == "MLmodel" for a in artifacts):  # versions registered earlier
        return LoadCheckResult(status=LoadStatus.FAILED, error=services.NO_MLMODEL_ERROR)
    iso = config.isolation()
    limits = config.limits(
        wall_seconds=settings.LOAD_CHECK_TIMEOUT_SECONDS, memory_mb=settings.LOAD_CHECK_MEMORY_MB
    )
    if not iso.available:
        logger.error("Load check of %s not run: sandbox unavailable: %s", version, iso.problem)
    elif iso.kind == "weak":
        logger.warning("Load check of %s runs WEAKLY ISOLATED: %s", version, iso.problem)
    heartbeat = Heartbeat(check.pk)
    storage = services.artifact_storage()
    with workspace() as ws:
        for artifact in artifacts:
            target = ws.model_dir / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(artifact.storage_name, "rb") as src, open(target, "wb") as dst:
                while chunk := src.read(1024 * 1024):  # gigabytes from S3 take a while
                    dst.write(chunk)
                    heartbeat()
        run = run_probe(ws, probe=PROBE, limits=limits, iso=iso, while_running=heartbeat)
    if run.outcome == Outcome.ERRORED:
        return LoadCheckResult(status=LoadStatus.ERRORED, error=run.error, isolation="")
    if run.outcome == Outcome.FAILED:
        return LoadCheckResult(status=LoadStatus.FAILED, error=run.error, isolation=run.isolation)
    assert run.result is not None
    return _report(run.result, limits, run.isolation)

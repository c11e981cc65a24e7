"""The sandbox as this deployment's settings configure it: the limits and what can be made here."""

from django.conf import settings

from .runner import Isolation, Limits, detect_isolation


def limits(*, wall_seconds: int, memory_mb: int) -> Limits:
    """Limits for one kind of work (a load check, an evaluation) under the SANDBOX_* settings."""
    return Limits(
        wall_seconds=wall_seconds,
        cpu_seconds=wall_seconds,
        memory_mb=memory_mb,
        tmp_mb=settings.SANDBOX_TMP_MB,
        file_size_mb=settings.SANDBOX_FILE_SIZE_MB,
        processes=settings.SANDBOX_MAX_PROCESSES,
        output_kb=settings.SANDBOX_OUTPUT_KB,
        result_kb=settings.SANDBOX_RESULT_KB,
    )


def isolation() -> Isolation:
    """What this process can make; weak isolation only when no sandbox is required (DEBUG on)."""
    return detect_isolation(settings.SANDBOX_BWRAP, allow_weak=not settings.SANDBOX_REQUIRED)


def status() -> dict:
    """For /readyz and `manage.py sandbox_status`: what model code gets here, and what to fix."""
    iso = isolation()
    return {
        "isolation": iso.kind,
        "description": iso.description,
        "required": settings.SANDBOX_REQUIRED,
        "problem": iso.problem,
    }

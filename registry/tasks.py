"""Celery tasks of the registry: thin, take ids, call services."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from audit.context import origin
from audit.models import Channel
from sandbox import config as sandbox_config

from . import services
from .loadcheck import check_version
from .models import ModelVersion


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=settings.LOAD_CHECK_TIMEOUT_SECONDS + 60,
    time_limit=settings.LOAD_CHECK_TIMEOUT_SECONDS + 120,
)
def check_version_loads(version_id: int) -> None:
    """Load the version in the sandbox and record the answer; a finished check is kept."""
    with origin(Channel.TASK):
        if not services.claim_load_check(version_id):
            return
        version = ModelVersion.objects.get(pk=version_id)
        result = check_version(version)
        services.finish_load_check(
            version_id=version_id,
            status=result.status,
            seconds=result.seconds,
            shape=result.shape,
            error=result.error,
            isolation=result.isolation,
        )


@shared_task(acks_late=True, soft_time_limit=60, time_limit=120)
def requeue_stalled_load_checks() -> int:
    """Beat's safety net: re-send checks whose message was lost (broker flushed, queue renamed),
    and checks that errored for want of a sandbox once this worker can make one."""
    stalled = services.stalled_load_checks()
    if sandbox_config.isolation().available:
        with origin(Channel.TASK):
            stalled += services.reopen_errored_load_checks()
    for version_id in stalled:
        check_version_loads.delay(version_id)
    return len(stalled)

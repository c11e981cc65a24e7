"""Celery tasks of the registry: thin, take ids, call services."""

import socket

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from audit.context import origin
from audit.models import Channel
from sandbox import config as sandbox_config

from . import services
from .loadcheck import check_version
from .models import LoadStatus, ModelVersion

WORKER = socket.gethostname()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=settings.LOAD_CHECK_TIMEOUT_SECONDS + 60,
    time_limit=settings.LOAD_CHECK_TIMEOUT_SECONDS + 120,
)
def run_load_check(check_id: int) -> None:
    """Run one load check in the sandbox and record its answer; a claimed check is not rerun."""
    with origin(Channel.TASK):
        check = services.claim_load_check(check_id=check_id, worker=WORKER)
        if check is None:
            return
        try:
            result = check_version(check)
        except Exception as exc:  # the machinery broke: errored, not the model's failure
            services.finish_load_check(
                check_id=check_id,
                status=LoadStatus.ERRORED,
                error=f"The check itself broke: {type(exc).__name__}: {exc}",
            )
            raise
        services.finish_load_check(
            check_id=check_id,
            status=result.status,
            seconds=result.seconds,
            shape=result.shape,
            error=result.error,
            isolation=result.isolation,
        )


@shared_task(acks_late=True, soft_time_limit=60, time_limit=120)
def requeue_stalled_load_checks() -> int:
    """Beat's safety net, every LOAD_CHECK_HEARTBEAT_SECONDS: re-send checks whose message was
    lost, give checks whose worker died a new attempt, and retry checks that errored for want of
    a sandbox once this worker has one. Cheap when there is nothing to do: a few indexed queries."""
    lost, abandoned = services.stalled_load_checks()
    with origin(Channel.TASK):
        for check_id in abandoned:
            services.give_up_on_load_check(check_id=check_id)
        errored = services.errored_load_checks()
        if errored and sandbox_config.isolation().available:
            for version_id in errored:
                version = ModelVersion.objects.get(pk=version_id)
                services.retry_load_check(version=version, reason="a sandbox is available now")
    for check_id in lost:
        run_load_check.delay(check_id)
    return len(lost) + len(abandoned)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=900)
def sweep_debris() -> int:
    """Beat's cleaner: what killed uploads and checks left behind, past the grace period."""
    swept = services.sweep_debris()
    return swept.items

"""Celery tasks of monitoring: thin, take ids, call services."""

import socket

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from audit.context import origin
from audit.models import Channel

from . import services
from .evaluate import EvaluationFailed, evaluate
from .models import RunStatus

WORKER = socket.gethostname()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=settings.EVALUATION_TIMEOUT_SECONDS + 300,
    time_limit=settings.EVALUATION_TIMEOUT_SECONDS + 420,
)
def run_evaluation(run_id: int) -> None:
    """Compute one evaluation and record it; a run already claimed is not run again, so a
    redelivered message does nothing and the stored result stays the one result."""
    with origin(Channel.TASK):
        run = services.claim_evaluation(run_id=run_id, worker=WORKER)
        if run is None:
            return
        try:
            metrics = evaluate(run)
        except EvaluationFailed as failure:  # the model or the data: the run's answer
            services.finish_evaluation(run_id=run_id, status=RunStatus.FAILED, error=str(failure))
            return
        except Exception as exc:  # the machinery broke: said as such, then raised for the log
            services.finish_evaluation(
                run_id=run_id,
                status=RunStatus.FAILED,
                error=f"The evaluation itself broke: {type(exc).__name__}: {exc}",
            )
            raise
        services.finish_evaluation(run_id=run_id, status=RunStatus.DONE, metrics=metrics)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=120)
def requeue_stalled_evaluations() -> int:
    """Beat's safety net: re-send runs whose message was lost, and end runs whose worker died
    (queueing them again a few times). A few indexed queries when there is nothing to do."""
    lost, abandoned = services.stalled_evaluations()
    with origin(Channel.TASK):
        for run_id in abandoned:
            services.give_up_on_evaluation(run_id=run_id)
    for run_id in lost:
        run_evaluation.delay(run_id)
    return len(lost) + len(abandoned)

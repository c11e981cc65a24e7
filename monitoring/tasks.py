"""Celery tasks of monitoring: thin, take ids, call services."""

import socket
from collections.abc import Callable

from celery import chord, shared_task
from django.conf import settings
from django.db import OperationalError

from audit.context import origin
from audit.models import Channel

from . import fanout, services
from .evaluate import EvaluationFailed, evaluate
from .models import EvaluationRun, RunStatus

WORKER = socket.gethostname()


def _finish(run_id: int, compute: Callable[[], dict]) -> None:
    """Compute a claimed run's metrics and record its end once: failed with the model's or the
    data's error, or with what broke in the machinery (then raised for the log)."""
    try:
        metrics = compute()
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
    redelivered message does nothing and the stored result stays the one result. Past
    EVALUATION_FAN_OUT_ROWS rows to predict, the predictions fan out across workers (a chord)
    and the chord's callback ends the run."""
    with origin(Channel.TASK):
        run = services.claim_evaluation(run_id=run_id, worker=WORKER)
        if run is None:
            return
        slices = fanout.plan(run)
        if not slices:
            _finish(run_id, lambda: evaluate(run))
            return
    services.record_fan_out(run_id=run_id, slices=len(slices))
    header = [predict_slice.s(run_id, i, *piece) for i, piece in enumerate(slices)]
    callback = finish_fanned_out_evaluation.s(run_id, slices)
    chord(header)(callback.on_error(fanned_out_evaluation_failed.s(run_id)))


@shared_task(
    acks_late=True,
    ignore_result=False,  # the chord counts its slices by their results
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=settings.EVALUATION_TIMEOUT_SECONDS + 300,
    time_limit=settings.EVALUATION_TIMEOUT_SECONDS + 420,
)
def predict_slice(run_id: int, index: int, dataset_id: int, start: int, stop: int) -> str:
    """One slice of a fanned-out run's predictions; its failure is the run's, said at once
    (the first failing slice's error is the one kept), then raised so the chord stops."""
    with origin(Channel.TASK):
        try:
            return fanout.predict_slice(
                run_id=run_id, index=index, dataset_id=dataset_id, start=start, stop=stop
            )
        except EvaluationFailed as failure:
            services.finish_evaluation(run_id=run_id, status=RunStatus.FAILED, error=str(failure))
            raise
        except OperationalError:
            raise
        except Exception as exc:
            services.finish_evaluation(
                run_id=run_id,
                status=RunStatus.FAILED,
                error=f"The evaluation itself broke: {type(exc).__name__}: {exc}",
            )
            raise


@shared_task(
    acks_late=True,
    ignore_result=False,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=settings.EVALUATION_TIMEOUT_SECONDS + 300,
    time_limit=settings.EVALUATION_TIMEOUT_SECONDS + 420,
)
def finish_fanned_out_evaluation(parts: list[str], run_id: int, slices: list) -> None:
    """The chord's callback: the metrics from the slices' parts, the run finished once (a
    run ended already, by a failed slice or the stalled-run task, is left as it is), the
    parts deleted. `parts` is what the slices returned; the parts are read by the plan's
    names, so a slice that skipped (its run had ended) leaves no gap unnoticed."""
    with origin(Channel.TASK):
        try:
            run = EvaluationRun.objects.select_related(
                "version__model", "dataset", "reference", "monitor"
            ).get(pk=run_id)
            if run.status == RunStatus.RUNNING:
                stored = fanout.stored_predictions(run_id, [tuple(s) for s in slices])
                _finish(run_id, lambda: evaluate(run, stored))
        finally:
            fanout.delete_parts(run_id)


@shared_task
def fanned_out_evaluation_failed(request, exc, traceback, run_id: int) -> None:
    """The chord's error callback: a slice failed (its error is on the run already, unless
    its worker was stopped by a time limit) or the callback broke; the parts are deleted."""
    with origin(Channel.TASK):
        services.finish_evaluation(
            run_id=run_id,
            status=RunStatus.FAILED,
            error=f"A slice of the predictions failed: {exc}",
        )
        fanout.delete_parts(run_id)


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

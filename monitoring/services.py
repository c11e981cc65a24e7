"""Evaluation runs: every write to an EvaluationRun, in the load check's pattern.

A run is saved first and queued when its transaction commits; a worker claims it with a
conditional UPDATE (pending → running), writes its progress and heartbeat as it goes, and
finishes it once (running → done or failed). The same inputs (version, kind, datasets, options)
make one live run: asking again returns it. Beat's `requeue_stalled_evaluations` re-sends runs
whose message was lost and ends runs whose worker died, queueing them again a few times.
"""

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, F, FloatField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from audit.services import record
from registry.models import LoadStatus, ModelVersion, Stage
from reviews import services as review_services

from . import alerts
from .models import (
    Dataset,
    DatasetKind,
    EvaluationKind,
    EvaluationRun,
    ModelMonitoringSettings,
    Monitor,
    RunStatus,
    Trigger,
)
from .stats import options as stats_options

logger = logging.getLogger(__name__)

MAX_AUTOMATIC_ATTEMPTS = 3


def evaluation_options(model_id: int) -> dict:
    """The model's drift and fairness settings over the documented defaults."""
    row = ModelMonitoringSettings.objects.filter(model_id=model_id).first()
    try:
        return stats_options.merged(row.values if row else {})
    except ValueError as error:
        raise ValidationError(f"The model's monitoring settings are not valid: {error}") from None


def inputs_key(
    *,
    version_id: int,
    kind: str,
    dataset_id: int,
    reference_id: int | None,
    window_ids: Iterable[int],
    options: dict,
) -> str:
    """What makes two evaluations the same: one live run per key."""
    inputs = {
        "version": version_id,
        "kind": kind,
        "dataset": dataset_id,
        "reference": reference_id,
        "window": sorted(window_ids),
        "options": options,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _latest(model_id: int, kind: str) -> Dataset | None:
    return Dataset.objects.filter(model_id=model_id, kind=kind).first()


def _check_inputs(
    version: ModelVersion, kind: str, dataset: Dataset, reference: Dataset | None
) -> None:
    """What each kind needs of its data, said before anything is queued."""
    if kind not in EvaluationKind.values:
        raise ValidationError(f"kind must be one of: {', '.join(EvaluationKind.values)}.")
    for name, given in (("dataset", dataset), ("reference", reference)):
        if given is not None and given.model_id != version.model_id:
            raise ValidationError(f"The {name} belongs to another model.")
    if kind == EvaluationKind.DRIFT:
        if reference is None:
            raise ValidationError(
                "A drift evaluation compares with a reference dataset: give one, or upload a"
                " reference dataset for the model."
            )
        if reference.pk == dataset.pk:
            raise ValidationError("A drift evaluation compares two different datasets.")
        return
    if not dataset.label_column:
        raise ValidationError(
            f"A {kind} evaluation needs labels: dataset {dataset.pk} names no label column."
        )
    if kind == EvaluationKind.FAIRNESS and not dataset.protected_columns:
        raise ValidationError(
            f"A fairness evaluation needs protected attributes: dataset {dataset.pk} names none."
        )


@transaction.atomic
def request_evaluation(
    *,
    actor,
    version: ModelVersion,
    kind: str,
    dataset: Dataset,
    reference: Dataset | None = None,
    trigger: str = Trigger.MANUAL,
    monitor: Monitor | None = None,
    window: Iterable[Dataset] = (),
) -> tuple[EvaluationRun, bool]:
    """Queue an evaluation, or return the live run of the same inputs (created False).

    Drift without a reference compares with the model's latest reference dataset. A failed run
    does not count: asking again after a failure makes a new run.
    """
    if kind == EvaluationKind.DRIFT and reference is None:
        reference = _latest(version.model_id, DatasetKind.REFERENCE)
    if kind != EvaluationKind.DRIFT:
        reference = None
    _check_inputs(version, kind, dataset, reference)
    window = list(window)
    options = evaluation_options(version.model_id)
    key = inputs_key(
        version_id=version.pk,
        kind=kind,
        dataset_id=dataset.pk,
        reference_id=reference.pk if reference else None,
        window_ids=[d.pk for d in window],
        options=options,
    )
    live = EvaluationRun.objects.exclude(status=RunStatus.FAILED).filter(inputs_key=key)
    existing = live.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # a concurrent request for the same inputs may win
            run = EvaluationRun.objects.create(
                version=version,
                kind=kind,
                trigger=trigger,
                dataset=dataset,
                reference=reference,
                monitor=monitor,
                inputs_key=key,
                options=options,
                created_by=actor,
            )
    except IntegrityError:
        return live.get(), False
    if window:
        run.window.set(window)
    _record_run(actor, "evaluation.requested", run, after={"kind": kind, "trigger": trigger})
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run, True


def _enqueue(run_id: int) -> None:
    from .tasks import run_evaluation  # tasks import services: the one late import

    run_evaluation.delay(run_id)


def _record_run(actor, verb: str, run: EvaluationRun, **changes) -> None:
    version = ModelVersion.objects.select_related("model__team").get(pk=run.version_id)
    record(
        actor=actor,
        verb=verb,
        object_type="evaluation",
        object_id=run.pk,
        object_name=f"{run.kind} evaluation #{run.pk} of {version.model.name} v{version.number}",
        team=version.model.team,
        model_name=version.model.name,
        **changes,
    )


# --- Triggers --------------------------------------------------------------------------------


def evaluate_new_version(version: ModelVersion) -> list[EvaluationRun]:
    """On upload, once the version loads: evaluate it on the model's latest evaluation dataset
    (performance; fairness when the data names protected columns; drift against the latest
    reference when there is one), and the production version on the same data as its baseline.
    Nothing when the model has no evaluation dataset yet."""
    dataset = _latest(version.model_id, DatasetKind.EVALUATION)
    if dataset is None:
        return []
    kinds = []
    if dataset.label_column:
        kinds.append(EvaluationKind.PERFORMANCE)
        if dataset.protected_columns:
            kinds.append(EvaluationKind.FAIRNESS)
    if _latest(version.model_id, DatasetKind.REFERENCE) is not None:
        kinds.append(EvaluationKind.DRIFT)
    production = (
        ModelVersion.objects.filter(model_id=version.model_id, stage=Stage.PRODUCTION)
        .exclude(pk=version.pk)
        .first()
    )
    runs = []
    with transaction.atomic():
        for kind in kinds:
            run, _ = request_evaluation(
                actor=None, version=version, kind=kind, dataset=dataset, trigger=Trigger.UPLOAD
            )
            if production is not None:
                baseline, _ = request_evaluation(
                    actor=None,
                    version=production,
                    kind=kind,
                    dataset=dataset,
                    trigger=Trigger.UPLOAD,
                )
                EvaluationRun.objects.filter(pk=run.pk).update(baseline=baseline)
                run.baseline = baseline
            runs.append(run)
    return runs


def load_check_finished(sender, *, version: ModelVersion, status: str, **event) -> None:
    """The registry's `load_check_finished`, sent after commit: a version that loads is
    evaluated. A failure here must not undo or hide the finished check: it is logged."""
    if status != LoadStatus.PASSED:
        return
    try:
        evaluate_new_version(version)
    except ValidationError as error:
        logger.warning("Version %s not evaluated on upload: %s", version.pk, error)


# --- Lifecycle -------------------------------------------------------------------------------


@transaction.atomic
def claim_evaluation(*, run_id: int, worker: str) -> EvaluationRun | None:
    """Take a pending run for this worker; None when another delivery already took it."""
    now = timezone.now()
    claimed = EvaluationRun.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=worker[:200],
        progress=0.0,
        progress_note="started",
    )
    if not claimed:
        return None
    return EvaluationRun.objects.select_related(
        "version__model", "dataset", "reference", "monitor"
    ).get(pk=run_id)


def record_progress(*, run_id: int, progress: float, note: str = "") -> None:
    """How far a running run is (0 to 1), which also says its worker is alive."""
    EvaluationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        progress=min(max(progress, 0.0), 1.0),
        progress_note=note[:200],
        heartbeat_at=timezone.now(),
    )


def record_fan_out(*, run_id: int, slices: int) -> None:
    """The run's predictions are made by `slices` tasks of a chord, counted as they finish."""
    EvaluationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        slices=slices,
        slices_done=0,
        progress=0.0,
        progress_note=f"predicting in {slices} slices",
        heartbeat_at=timezone.now(),
    )


def record_slice_done(*, run_id: int, predicting: float) -> None:
    """One more slice of a fanned-out run predicted: its progress is the share of slices done
    (scaled to `predicting`, the part of the run spent predicting). One conditional UPDATE, so
    slices finishing together on different workers each count once."""
    done = F("slices_done") + 1
    EvaluationRun.objects.filter(
        pk=run_id, status=RunStatus.RUNNING, slices_done__lt=F("slices")
    ).update(
        slices_done=done,
        progress=Cast(done, FloatField()) * predicting / F("slices"),
        progress_note=Concat(
            Cast(done, CharField()),
            Value(" of "),
            Cast(F("slices"), CharField()),
            Value(" slices predicted"),
        ),
        heartbeat_at=timezone.now(),
    )


def record_heartbeat(*, run_id: int) -> None:
    EvaluationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )


@transaction.atomic
def finish_evaluation(
    *, run_id: int, status: str, metrics: dict | None = None, error: str = ""
) -> bool:
    """Record a running run's end once: done with its metrics, or failed with its error.

    False when the run was no longer running (the stalled-run task ended it first). Approvals
    of the model's open requests that saw other check results are dismissed.
    """
    if status not in (RunStatus.DONE, RunStatus.FAILED):
        raise ValueError(f"a finished evaluation cannot be {status!r}")
    run = EvaluationRun.objects.select_related("version").get(pk=run_id)
    now = timezone.now()
    started = run.started_at or now
    finished = EvaluationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=status,
        finished_at=now,
        duration_seconds=round((now - started).total_seconds(), 3),
        progress=1.0 if status == RunStatus.DONE else run.progress,
        progress_note="done" if status == RunStatus.DONE else "failed",
        metrics=metrics or {},
        error=error[:20000],
    )
    if not finished:
        return False
    _record_run(None, "evaluation.finished", run, after={"status": status})
    review_services.dismiss_stale_approvals(model_id=run.version.model_id)
    run.refresh_from_db()
    alerts.run_finished(run)
    return True


def _heartbeat_grace() -> timedelta:
    return timedelta(seconds=3 * settings.LOAD_CHECK_HEARTBEAT_SECONDS)


def _never_picked_up_grace() -> timedelta:
    """Well past the time a run may take: a pending run this old lost its message."""
    return timedelta(seconds=settings.EVALUATION_TIMEOUT_SECONDS + 300)


def _unheard_running_runs() -> QuerySet[EvaluationRun]:
    """Running runs silent too long. A fanned-out run is heard from its slices as they predict,
    but its slices may wait in the queue behind other work as a pending run does, so it is
    given the pending run's grace."""
    now = timezone.now()
    return EvaluationRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(slices=0, heartbeat_at__lt=now - _heartbeat_grace())
        | Q(slices__gt=0, heartbeat_at__lt=now - _never_picked_up_grace())
        | Q(heartbeat_at__isnull=True)
    )


def stalled_evaluations() -> tuple[list[int], list[int]]:
    """(pending runs whose message was lost, running runs whose worker went away)."""
    before = timezone.now() - _never_picked_up_grace()
    lost = EvaluationRun.objects.filter(status=RunStatus.PENDING, queued_at__lt=before)
    return (
        list(lost.values_list("id", flat=True)[:500]),
        list(_unheard_running_runs().values_list("id", flat=True)[:500]),
    )


@transaction.atomic
def give_up_on_evaluation(*, run_id: int) -> EvaluationRun | None:
    """End a run whose worker went away as failed, saying so, and queue the same inputs again
    while fewer than MAX_AUTOMATIC_ATTEMPTS failed (a run that kills its worker stops there).

    The row is locked and its silence checked again, so a heartbeat that arrives meanwhile wins.
    """
    run = _unheard_running_runs().select_for_update().filter(pk=run_id).first()
    if run is None:
        return None
    last_heard = (run.heartbeat_at or run.started_at or timezone.now()).astimezone(UTC)
    heard = f"last heard {last_heard:%H:%M:%S} UTC" + (f" from {run.worker}" if run.worker else "")
    failures = EvaluationRun.objects.filter(
        inputs_key=run.inputs_key, status=RunStatus.FAILED
    ).count()
    again = failures + 1 < MAX_AUTOMATIC_ATTEMPTS
    then = "evaluating again" if again else f"not tried again after {failures + 1} attempts"
    finish_evaluation(
        run_id=run.pk,
        status=RunStatus.FAILED,
        error=f"The worker stopped answering during the evaluation ({heard}); {then}.",
    )
    if not again:
        return None
    retry = EvaluationRun.objects.create(
        version_id=run.version_id,
        kind=run.kind,
        trigger=run.trigger,
        dataset_id=run.dataset_id,
        reference_id=run.reference_id,
        monitor_id=run.monitor_id,
        baseline_id=run.baseline_id,
        inputs_key=run.inputs_key,
        options=run.options,
        created_by_id=run.created_by_id,
    )
    retry.window.set(run.window.all())
    # Whatever pointed at the lost run as its baseline now points at the new one.
    EvaluationRun.objects.filter(baseline_id=run.pk).update(baseline=retry)
    transaction.on_commit(lambda: _enqueue(retry.pk))
    return retry

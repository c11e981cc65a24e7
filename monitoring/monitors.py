"""Monitors: which evaluations run on a schedule for a model, and their alert rules.

Each monitor keeps one django-celery-beat `PeriodicTask` in step (created, changed, switched
off and deleted with it, in the same transaction), so the schedule people set in the browser or
the API is what beat fires: `monitoring.tasks_watch.run_monitor(monitor_id)`.
"""

import json
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from audit.services import record
from registry.models import RegisteredModel

from . import datasets, services
from .access import can_manage_monitors
from .alerts import OPS
from .models import EvaluationKind, Interval, Monitor

STAGES = ("production", "staging")
EVERY = {
    Interval.HOURLY: (1, IntervalSchedule.HOURS),
    Interval.DAILY: (1, IntervalSchedule.DAYS),
    Interval.WEEKLY: (7, IntervalSchedule.DAYS),
}
TASK = "monitoring.tasks_watch.run_monitor"
MAX_WINDOW_DAYS = 365
FIELDS = ("name", "kinds", "stages", "window_days", "interval", "rules", "enabled")


def clean_rules(rules) -> list[dict]:
    """Rules as stored: each `{"metric", "op", "warning", "critical"}`, at least one level, and
    the critical level beyond the warning one. ValidationError names the rule that is wrong."""
    if not isinstance(rules, list):
        raise ValidationError("Rules are a list of {metric, op, warning, critical}.")
    cleaned, seen = [], set()
    for number, rule in enumerate(rules, start=1):
        where = f"Rule {number}"
        if not isinstance(rule, dict):
            raise ValidationError(f"{where}: give metric, op, warning and/or critical.")
        unknown = set(rule) - {"metric", "op", "warning", "critical"}
        if unknown:
            raise ValidationError(f"{where}: unknown fields {', '.join(sorted(unknown))}.")
        metric, op = rule.get("metric"), rule.get("op")
        if not isinstance(metric, str) or not metric.strip() or len(metric) > 100:
            raise ValidationError(f"{where}: name a metric of the runs' summary, e.g. roc_auc.")
        if op not in OPS:
            raise ValidationError(f"{where}: op is one of {', '.join(OPS)}.")
        levels = {}
        for level in ("warning", "critical"):
            value = rule.get(level)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValidationError(f"{where}: {level} is a number or null.")
            levels[level] = None if value is None else float(value)
        warning, critical = levels["warning"], levels["critical"]
        if warning is None and critical is None:
            raise ValidationError(f"{where}: give a warning or a critical level (or both).")
        if warning is not None and critical is not None:
            lower_is_worse = op in (">=", ">")
            if (critical > warning) if lower_is_worse else (critical < warning):
                raise ValidationError(
                    f"{where}: the critical level must be at least as far from good as the"
                    f" warning level ({metric} {op} warning {warning:g}, critical {critical:g})."
                )
        key = f"{metric.strip()} {op}"
        if key in seen:
            raise ValidationError(f"{where}: {key} is already a rule of this monitor.")
        seen.add(key)
        cleaned.append({"metric": metric.strip(), "op": op, **levels})
    return cleaned


def _clean(fields: dict) -> dict:
    clean = dict(fields)
    if "name" in clean:
        clean["name"] = str(clean["name"]).strip()
        if not clean["name"] or len(clean["name"]) > 100:
            raise ValidationError("A monitor needs a name of at most 100 characters.")
    if "kinds" in clean:
        kinds = clean["kinds"]
        if not kinds or not set(kinds) <= set(EvaluationKind.values):
            raise ValidationError(f"Kinds: one or more of {', '.join(EvaluationKind.values)}.")
        clean["kinds"] = [k for k in EvaluationKind.values if k in kinds]
    if "stages" in clean:
        stages = clean["stages"]
        if not stages or not set(stages) <= set(STAGES):
            raise ValidationError("Stages: production, staging or both.")
        clean["stages"] = [s for s in STAGES if s in stages]
    if "window_days" in clean and not 1 <= clean["window_days"] <= MAX_WINDOW_DAYS:
        raise ValidationError(f"The window is 1 to {MAX_WINDOW_DAYS} days.")
    if "interval" in clean and clean["interval"] not in Interval.values:
        raise ValidationError(f"Interval: one of {', '.join(Interval.values)}.")
    if "rules" in clean:
        clean["rules"] = clean_rules(clean["rules"])
    return clean


def _check(actor, model: RegisteredModel) -> None:
    if not can_manage_monitors(actor, model):
        raise PermissionDenied("Only the team's owners and DevOps set up monitors.")


def _name_taken(model: RegisteredModel, name: str, but: int | None = None) -> None:
    same = Monitor.objects.filter(model=model, name=name)
    if but is not None:
        same = same.exclude(pk=but)
    if same.exists():
        raise ValidationError(f"This model already has a monitor called {name!r}.")


def _sync_schedule(monitor: Monitor) -> None:
    """The monitor's PeriodicTask, made or changed to match it (enabled only when it is)."""
    every, period = EVERY[Interval(monitor.interval)]
    schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    task = monitor.periodic_task or PeriodicTask(name=f"monitor:{monitor.pk}")
    task.task, task.args, task.interval = TASK, json.dumps([monitor.pk]), schedule
    task.enabled = monitor.enabled
    task.description = f"{monitor.model.name}: {monitor.name}"
    task.save()
    if monitor.periodic_task_id != task.pk:
        monitor.periodic_task = task
        monitor.save(update_fields=["periodic_task"])


def _state(monitor: Monitor) -> dict:
    return {field: getattr(monitor, field) for field in FIELDS}


def _audit(actor, monitor: Monitor, verb: str, before=None, after=None) -> None:
    record(
        actor=actor,
        verb=verb,
        object_type="monitor",
        object_id=monitor.pk,
        object_name=monitor.name,
        team=monitor.model.team,
        model_name=monitor.model.name,
        before=before,
        after=after,
    )


@transaction.atomic
def create_monitor(
    *,
    actor,
    model: RegisteredModel,
    name: str,
    kinds: list[str],
    stages: list[str],
    rules: list[dict],
    window_days: int = 7,
    interval: str = Interval.DAILY,
    enabled: bool = True,
) -> Monitor:
    """A new monitor and its beat schedule; audited as "monitor.created"."""
    _check(actor, model)
    fields = _clean(
        {
            "name": name,
            "kinds": kinds,
            "stages": stages,
            "rules": rules,
            "window_days": window_days,
            "interval": interval,
            "enabled": enabled,
        }
    )
    _name_taken(model, fields["name"])
    monitor = Monitor.objects.create(model=model, created_by=actor, **fields)
    _sync_schedule(monitor)
    _audit(actor, monitor, "monitor.created", after=_state(monitor))
    return monitor


@transaction.atomic
def update_monitor(*, actor, monitor: Monitor, **changes) -> Monitor:
    """Change any of the monitor's fields (FIELDS); its schedule follows."""
    _check(actor, monitor.model)
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Monitors have no field {', '.join(sorted(unknown))}.")
    fields = _clean(changes)
    if "name" in fields:
        _name_taken(monitor.model, fields["name"], but=monitor.pk)
    before = _state(monitor)
    for field, value in fields.items():
        setattr(monitor, field, value)
    monitor.save()
    _sync_schedule(monitor)
    after = _state(monitor)
    changed = [f for f in FIELDS if before[f] != after[f]]
    if changed:
        _audit(
            actor,
            monitor,
            "monitor.edited",
            before={f: before[f] for f in changed},
            after={f: after[f] for f in changed},
        )
    return monitor


@transaction.atomic
def delete_monitor(*, actor, monitor: Monitor) -> None:
    """The monitor, its schedule and its alerts go; its runs stay (they lose the link)."""
    _check(actor, monitor.model)
    _audit(actor, monitor, "monitor.deleted", before=_state(monitor))
    if monitor.periodic_task_id:
        PeriodicTask.objects.filter(pk=monitor.periodic_task_id).delete()
    monitor.delete()


def monitors_of(model: RegisteredModel):
    return Monitor.objects.filter(model=model).select_related("periodic_task__interval")


def window_of(monitor: Monitor, now=None) -> tuple:
    """The time span a run of the monitor covers now: its last `window_days` days."""
    until = now or timezone.now()
    return until - timedelta(days=monitor.window_days), until


def request_runs(*, monitor: Monitor, actor=None, trigger: str = "schedule") -> list:
    """Ask for the monitor's evaluations of each live version in its stages, over the
    production batches of its window: the newest batch is the run's dataset, the others its
    window (oldest first). Performance and fairness take the labelled batches only (labels
    arrive later than inputs); drift takes them all and compares them with the model's latest
    reference dataset. A kind with nothing to evaluate is left out. Returns the runs, new or
    the live ones already asked for the same inputs."""
    since, until = window_of(monitor)
    batches = list(datasets.batches_between(monitor.model, since, until))
    reference = datasets.default_datasets(monitor.model)["reference"]
    inputs = {
        EvaluationKind.PERFORMANCE: [b for b in batches if b.label_column],
        EvaluationKind.FAIRNESS: [b for b in batches if b.label_column and b.protected_columns],
        EvaluationKind.DRIFT: batches if reference is not None else [],
    }
    runs = []
    versions = monitor.model.versions.filter(stage__in=monitor.stages).order_by("number")
    for version in versions:
        version.model = monitor.model
        for kind in monitor.kinds:
            found = inputs[EvaluationKind(kind)]
            if not found:
                continue
            run, _ = services.request_evaluation(
                actor=actor,
                version=version,
                kind=kind,
                dataset=found[-1],
                reference=reference if kind == EvaluationKind.DRIFT else None,
                trigger=trigger,
                monitor=monitor,
                window=found[:-1],
            )
            runs.append(run)
    Monitor.objects.filter(pk=monitor.pk).update(last_run_at=timezone.now())
    return runs


def run_now(*, actor, monitor: Monitor) -> list:
    """The browser's and the API's "Run now": the same evaluations as the schedule's, at once."""
    _check(actor, monitor.model)
    return request_runs(monitor=monitor, actor=actor, trigger="manual")

"""Alerts: a monitor's rules judged on each finished evaluation, and what people do with them.

A rule is `{"metric", "op", "warning", "critical"}`: the run's `metrics["summary"][metric]`
compared with `op` against each level (e.g. `roc_auc >= 0.85` warns below 0.85, `>= 0.8` is
critical below 0.8). One alert stays open per monitor, version and rule while the rule fails
(updated, never duplicated), and resolves on the first run that passes it. Watchers of the model
hear of an opening in their inbox; a critical one (or one that turns critical) is also e-mailed at
once, and a resolve is told the same way. A muted alert is silent until its mute ends.
"""

import operator
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import record
from notifications.models import Event
from notifications.selectors import watchers_of
from notifications.services import notify

from .access import can_manage_monitors
from .models import Alert, EvaluationRun, Level, Monitor, RunStatus

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
OP_WORDS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
MAX_MUTE_MINUTES = 30 * 24 * 60


def rule_key(rule: dict) -> str:
    return f"{rule['metric']} {rule['op']}"


def judge(rule: dict, value: float) -> tuple[str | None, float | None]:
    """The level a value breaks (critical first) and that level's threshold, or (None, None)."""
    passes = OPS[rule["op"]]
    for level in (Level.CRITICAL, Level.WARNING):
        threshold = rule.get(level)
        if threshold is not None and not passes(value, threshold):
            return level, threshold
    return None, None


def alerts_url() -> str:
    return reverse("monitoring:alerts")


def run_finished(run: EvaluationRun) -> None:
    """Apply the rules of the run's monitor to its summary: open, update or resolve alerts.

    A run without a monitor, a failed run and a metric the run did not produce (null, or of
    another kind of evaluation) change nothing. Safe to call twice for the same run.
    """
    if run.monitor_id is None or run.status != RunStatus.DONE or _newer_data_judged(run):
        return
    summary = (run.metrics or {}).get("summary") or {}
    with transaction.atomic():
        monitor = Monitor.objects.select_related("model__team").get(pk=run.monitor_id)
        for rule in monitor.rules:
            value = summary.get(rule["metric"])
            if not isinstance(value, int | float):
                continue
            _apply(monitor, run, rule, float(value))


def _newer_data_judged(run: EvaluationRun) -> bool:
    """A run that ends after one on newer data of the same monitor, version and kind (a retry,
    a backfill) does not undo that verdict: the newest data speaks for the rules."""
    return EvaluationRun.objects.filter(
        monitor=run.monitor,
        version_id=run.version_id,
        kind=run.kind,
        status=RunStatus.DONE,
        dataset__observed_at__gt=run.dataset.observed_at,
    ).exists()


def _apply(monitor: Monitor, run: EvaluationRun, rule: dict, value: float) -> None:
    key, now = rule_key(rule), timezone.now()
    level, threshold = judge(rule, value)
    found = (
        Alert.objects.select_for_update()
        .filter(monitor=monitor, version_id=run.version_id, rule_key=key, resolved_at__isnull=True)
        .first()
    )
    if level is None:
        if found is not None:
            found.resolved_at, found.last_seen_at, found.value, found.run = now, now, value, run
            found.save(update_fields=["resolved_at", "last_seen_at", "value", "run"])
            _tell(found, "resolved", f"Resolved: {found.message}", email=True)
        return
    message = (
        f"{monitor.model.name} v{run.version.number}: {rule['metric']} is {value:.4g}, "
        f"should be {OP_WORDS[rule['op']]} {threshold:.4g} ({monitor.name})"
    )
    if found is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    monitor=monitor,
                    version_id=run.version_id,
                    rule_key=key,
                    level=level,
                    message=message[:500],
                    value=value,
                    threshold=threshold,
                    run=run,
                    opened_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:  # another run of the same rule opened it a moment ago
            return _apply(monitor, run, rule, value)
        _tell(alert, "opened", message, email=level == Level.CRITICAL)
        return
    escalated = level == Level.CRITICAL and found.level != Level.CRITICAL
    found.level, found.message, found.value, found.threshold = (
        level,
        message[:500],
        value,
        threshold,
    )
    found.run, found.last_seen_at = run, now
    found.save(update_fields=["level", "message", "value", "threshold", "run", "last_seen_at"])
    if escalated:
        _tell(found, "critical", message, email=True)


def _tell(alert: Alert, occasion: str, message: str, *, email: bool) -> None:
    if alert.muted_until is not None and alert.muted_until > timezone.now():
        return
    model = alert.monitor.model
    word = "Critical" if alert.level == Level.CRITICAL else "Warning"
    title = message if occasion == "resolved" else f"{word}: {message}"
    notify(
        event=Event.ALERT,
        recipients=watchers_of(model),
        actor=None,
        model=model,
        title=title,
        body=f"Monitor {alert.monitor.name} of {model.name}.",
        url=alerts_url() + f"?model={model.name}",
        dedupe_key=f"alert:{alert.pk}:{occasion}",
        email=email,
    )


def _manageable(actor, alert: Alert) -> None:
    if not can_manage_monitors(actor, alert.monitor.model):
        raise PermissionDenied("Only the team's owners and DevOps act on alerts.")


@transaction.atomic
def acknowledge(*, actor, alert: Alert) -> Alert:
    """Say someone is on it; the alert stays open until a run passes its rule."""
    _manageable(actor, alert)
    if not alert.is_open:
        raise ValidationError("This alert is resolved already.")
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = actor, timezone.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
        _audit(actor, alert, "alert.acknowledged", {"acknowledged": True})
    return alert


@transaction.atomic
def mute(*, actor, alert: Alert, minutes: int) -> Alert:
    """Silence the alert's notifications for `minutes` (0 ends a mute)."""
    _manageable(actor, alert)
    if not 0 <= minutes <= MAX_MUTE_MINUTES:
        raise ValidationError(f"Mute for 0 to {MAX_MUTE_MINUTES} minutes (30 days).")
    if not alert.is_open:
        raise ValidationError("This alert is resolved already.")
    alert.muted_until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    alert.save(update_fields=["muted_until"])
    _audit(actor, alert, "alert.muted", {"minutes": minutes})
    return alert


def _audit(actor, alert: Alert, verb: str, after: dict) -> None:
    model = alert.monitor.model
    record(
        actor=actor,
        verb=verb,
        object_type="alert",
        object_id=alert.pk,
        object_name=alert.message,
        team=model.team,
        model_name=model.name,
        after=after,
    )


def alerts_for(user, *, model: str = "", state: str = "open"):
    """Alerts of the models the user sees (a team-limited token: that team's), newest first;
    `state` open, resolved or "" for both, `model` a model's name or "" for all."""
    found = Alert.objects.for_user(user).select_related(
        "monitor__model__team", "version", "acknowledged_by"
    )
    if model:
        found = found.filter(monitor__model__name=model)
    if state == "open":
        found = found.filter(resolved_at__isnull=True)
    elif state == "resolved":
        found = found.filter(resolved_at__isnull=False)
    return found

"""Celery tasks of monitors and the monitoring e-mail: thin, take ids, call the services."""

from celery import shared_task
from django.db import OperationalError

from audit.context import origin
from audit.models import Channel

from . import digest, monitors
from .models import Monitor


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def run_monitor(monitor_id: int) -> int:
    """What beat fires for a monitor: request its evaluations (each runs as its own task).
    A monitor deleted or switched off meanwhile does nothing. Returns how many runs it asked."""
    with origin(Channel.TASK):
        monitor = Monitor.objects.select_related("model__team").filter(pk=monitor_id).first()
        if monitor is None or not monitor.enabled:
            return 0
        return len(monitors.request_runs(monitor=monitor))


@shared_task(acks_late=True, soft_time_limit=1200, time_limit=1500)
def send_digests() -> int:
    """Hourly: queue the monitoring e-mail of everyone whose daily or weekly one is due."""
    with origin(Channel.TASK):
        return digest.send_due_digests()

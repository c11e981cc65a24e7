"""Celery tasks of notifications: the outbox's sender, queued after each change that wrote
e-mails and run by beat every minute (retries, and rows a killed sender left)."""

from celery import shared_task

from . import outbox

# A run stops claiming after SEND_BUDGET_SECONDS; the limits end a run stuck on the server.
# outbox.SENDING_TIMEOUT must stay longer than TIME_LIMIT_SECONDS.
SEND_BUDGET_SECONDS = 120
SOFT_TIME_LIMIT_SECONDS = 240
TIME_LIMIT_SECONDS = 300


@shared_task(acks_late=True, soft_time_limit=SOFT_TIME_LIMIT_SECONDS, time_limit=TIME_LIMIT_SECONDS)
def send_due_emails() -> int:
    """Send what is due in the outbox; safe to run many at once (each row is claimed once)."""
    outbox.release_stalled()
    return outbox.send_due(budget_seconds=SEND_BUDGET_SECONDS)

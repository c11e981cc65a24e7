"""Sending the outbox: each e-mail is claimed by one sender, sent, then marked sent or retried.

A row moves pending → sending (claimed) → sent, or back to pending with a later
`next_attempt_at` when the SMTP server fails, and to failed after `EMAIL_MAX_ATTEMPTS`. The claim
is a locked read (`SKIP LOCKED` on PostgreSQL, SQLite's write lock otherwise) followed by a
conditional UPDATE, so two senders never hold the same row. A sender killed while holding one
leaves it in "sending": `release_stalled()` makes it pending again once `SENDING_TIMEOUT` has
passed, which is longer than the task may run, so no live sender still holds it.
"""

import base64
import logging
import smtplib
import time
from datetime import timedelta
from email.mime.image import MIMEImage

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import EmailStatus, OutboxEmail

logger = logging.getLogger(__name__)

# Longer than send_due_emails' hard time limit: a row held this long has no live sender.
SENDING_TIMEOUT = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after the first, second, third failure; at most an hour."""
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 10), LONGEST_RETRY)


def _server_unreachable(error: Exception) -> bool:
    """The connection is no use for the next e-mail of this run (as opposed to the server
    refusing this one e-mail, e.g. its recipient). Every SMTP error is an OSError too."""
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _due(now) -> Q:
    return Q(status=EmailStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


@transaction.atomic
def claim_next() -> OutboxEmail | None:
    """The oldest due e-mail, now marked as being sent by the caller (attempts counted), or None."""
    now = timezone.now()
    email = (
        OutboxEmail.objects.select_for_update(skip_locked=True)
        .filter(_due(now))
        .order_by("created_at", "id")
        .first()
    )
    if email is None:
        return None
    # Conditional, so the claim holds even where the database ignores the row lock.
    claimed = OutboxEmail.objects.filter(_due(now), pk=email.pk).update(
        status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    email.status, email.claimed_at, email.attempts = EmailStatus.SENDING, now, email.attempts + 1
    return email


def _message(email: OutboxEmail, connection) -> EmailMultiAlternatives:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "vetted"
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_address],
        connection=connection,
        # The same id on every attempt: a mail client shows a copy sent twice (a sender killed
        # after the server took it) as one message.
        headers={"Message-ID": f"<outbox-{email.pk}-{email.created_at:%Y%m%d%H%M%S}@{domain}>"},
    )
    message.attach_alternative(email.html_body, "text/html")
    if email.inline_images:
        # The images belong to the HTML, not attachments (Django's attribute; not in its stubs).
        message.mixed_subtype = "related"  # type: ignore[attr-defined]
        for image in email.inline_images:
            part = MIMEImage(base64.b64decode(image["png_base64"]), "png")
            part.add_header("Content-ID", f"<{image['cid']}>")
            part.add_header("Content-Disposition", "inline", filename=f"{image['cid']}.png")
            message.attach(part)
    return message


def _mark_sent(email: OutboxEmail) -> None:
    OutboxEmail.objects.filter(
        pk=email.pk, status=EmailStatus.SENDING, claimed_at=email.claimed_at
    ).update(status=EmailStatus.SENT, sent_at=timezone.now(), last_error="")


def _mark_failed_attempt(email: OutboxEmail, error: Exception) -> None:
    """Pending again after the back-off, or failed once the attempts are used up."""
    gave_up = email.attempts >= settings.EMAIL_MAX_ATTEMPTS
    OutboxEmail.objects.filter(
        pk=email.pk, status=EmailStatus.SENDING, claimed_at=email.claimed_at
    ).update(
        status=EmailStatus.FAILED if gave_up else EmailStatus.PENDING,
        next_attempt_at=None if gave_up else timezone.now() + retry_delay(email.attempts),
        last_error=f"{type(error).__name__}: {error}"[:2000],
    )
    logger.warning(
        "E-mail %s to %s: attempt %s failed%s: %s",
        email.pk,
        email.to_address,
        email.attempts,
        ", giving up" if gave_up else "",
        error,
    )


def release_stalled() -> int:
    """Rows whose sender died mid-send: pending again (or failed, out of attempts)."""
    stalled = Q(status=EmailStatus.SENDING, claimed_at__lt=timezone.now() - SENDING_TIMEOUT)
    note = "The sender stopped while sending (its worker was killed or lost the database)."
    given_up = OutboxEmail.objects.filter(
        stalled, attempts__gte=settings.EMAIL_MAX_ATTEMPTS
    ).update(status=EmailStatus.FAILED, last_error=note)
    released = OutboxEmail.objects.filter(stalled).update(
        status=EmailStatus.PENDING, next_attempt_at=None, last_error=note
    )
    return given_up + released


def send_due(*, budget_seconds: float) -> int:
    """Send due e-mails one by one over one SMTP connection until none is due, the budget is
    spent, or the server cannot be reached (the rest waits for the next run). Returns how many
    were sent."""
    deadline = time.monotonic() + budget_seconds
    sent = 0
    connection = get_connection()  # SMTP with EMAIL_TIMEOUT: a hung server ends the attempt
    try:
        while time.monotonic() < deadline:
            email = claim_next()
            if email is None:
                break
            try:
                connection.open()  # once: an open connection stays open for the next e-mail
                _message(email, connection).send()
            except Exception as error:
                _mark_failed_attempt(email, error)
                if _server_unreachable(error):
                    break
            else:
                _mark_sent(email)
                sent += 1
    finally:
        try:
            connection.close()
        except OSError:
            pass  # the server went away; every row already says what happened to it
    return sent

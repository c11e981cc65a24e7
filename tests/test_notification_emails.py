"""E-mail from the outbox to a real SMTP server on loopback (aiosmtpd): sent once, with text,
HTML and the link; kept and retried while the server is down; never sent twice, whether two
senders run at once or one is killed mid-send."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from notifications import outbox
from notifications.models import EmailStatus, Event, Notification, OutboxEmail
from notifications.services import notify
from notifications.tasks import send_due_emails
from tests import mail
from tests.conftest import database_url
from tests.page_factories import registered_model
from tests.workers import Worker
from vetted.celery import app

ROOT = Path(__file__).resolve().parent.parent


# Fixtures of tests/mail.py: the port Vetted sends to, a server to start on it.
smtp_port = mail.smtp_port
smtp = mail.smtp


@pytest.fixture
def model(alice, teams):
    return registered_model(alice, teams["fraud"])


def tell(person, model, key="mention:1", actor=None, title="alice mentioned you"):
    with transaction.atomic():
        notify(
            event=Event.MENTION,
            recipients=[person],
            actor=actor,
            model=model,
            title=title,
            body="Could you look at <the thresholds>?",
            url=f"/models/{model.name}/",
            dedupe_key=key,
        )


def test_an_email_reaches_the_smtp_server_with_text_html_and_the_link(
    smtp, model, alice, bob, django_capture_on_commit_callbacks
):
    mailbox = smtp.start()
    with django_capture_on_commit_callbacks() as queued:
        tell(bob, model, actor=alice)
    assert [callback.__name__ for callback in queued] == ["_send_soon"]

    assert send_due_emails() == 1

    [message] = mailbox.messages
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "[Vetted] alice mentioned you"
    link = "https://vetted.example.com/models/fraud-detector/"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert link in text and "Could you look at <the thresholds>?" in text
    assert f'<a href="{link}">' in html and "&lt;the thresholds&gt;" in html
    settings_link = "https://vetted.example.com/settings/notifications/"
    assert settings_link in text and f'<a href="{settings_link}">' in html
    row = OutboxEmail.objects.get()
    assert (row.status, row.attempts, row.last_error) == (EmailStatus.SENT, 1, "")
    assert row.sent_at is not None

    assert send_due_emails() == 0
    assert len(mailbox.messages) == 1


def test_the_same_occasion_is_written_and_sent_once(smtp, model, alice, bob):
    mailbox = smtp.start()
    tell(bob, model, key="request:3:review:9")
    tell(bob, model, key="request:3:review:9")
    send_due_emails()
    tell(bob, model, key="request:3:review:9")
    send_due_emails()
    assert Notification.objects.count() == 1 and OutboxEmail.objects.count() == 1
    assert len(mailbox.messages) == 1


def test_with_the_smtp_server_down_nothing_is_lost_and_it_goes_out_when_it_is_back(
    smtp, model, bob
):
    tell(bob, model)
    assert send_due_emails() == 0
    row = OutboxEmail.objects.get()
    assert row.status == EmailStatus.PENDING and row.attempts == 1
    assert "refused" in row.last_error.lower()
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)

    assert send_due_emails() == 0  # not due yet: the back-off holds
    assert OutboxEmail.objects.get().attempts == 1

    mailbox = smtp.start()
    OutboxEmail.objects.update(next_attempt_at=F("next_attempt_at") - timedelta(minutes=1))
    assert send_due_emails() == 1
    row = OutboxEmail.objects.get()
    assert (row.status, row.attempts, row.last_error) == (EmailStatus.SENT, 2, "")
    assert len(mailbox.messages) == 1


def test_each_failure_waits_twice_as_long_and_the_last_attempt_gives_up(smtp, model, bob, settings):
    settings.EMAIL_MAX_ATTEMPTS = 3
    tell(bob, model)
    waits = []
    for _ in range(3):
        before = timezone.now()
        send_due_emails()
        row = OutboxEmail.objects.get()
        if row.next_attempt_at:
            waits.append(round((row.next_attempt_at - before).total_seconds() / 60))
        OutboxEmail.objects.update(next_attempt_at=timezone.now())
    row = OutboxEmail.objects.get()
    assert waits == [1, 2]
    assert (row.status, row.attempts) == (EmailStatus.FAILED, 3)

    mailbox = smtp.start()
    assert send_due_emails() == 0
    assert mailbox.messages == []


def test_a_refused_recipient_does_not_hold_up_the_others(smtp, model, bob, people):
    mailbox = smtp.start()
    mailbox.refused = {"carol@example.com"}
    tell(people["carol"], model, key="a")
    tell(bob, model, key="b")
    assert send_due_emails() == 1
    assert [m["To"] for m in mailbox.messages] == ["bob@example.com"]
    refused = OutboxEmail.objects.get(recipient=people["carol"])
    assert refused.status == EmailStatus.PENDING and "No such mailbox" in refused.last_error


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_deliver_each_email_exactly_once(needs_postgres, smtp, model, bob):
    mailbox = smtp.start()
    mailbox.delay = 0.02  # long enough for the senders to interleave
    for number in range(20):
        tell(bob, model, key=f"mention:{number}", title=f"mention {number}")
    start = threading.Barrier(2, timeout=20)
    sent = [0, 0]

    def sender(index: int) -> None:
        try:
            start.wait()
            sent[index] = send_due_emails()
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    subjects = sorted(m["Subject"] for m in mailbox.messages)
    assert subjects == sorted(f"[Vetted] mention {n}" for n in range(20))
    assert sum(sent) == 20
    assert set(OutboxEmail.objects.values_list("status", "attempts")) == {(EmailStatus.SENT, 1)}


@pytest.mark.django_db(transaction=True)
def test_a_killed_senders_email_is_sent_again_once_its_claim_expires(
    needs_postgres, smtp, smtp_port, model, bob
):
    mailbox = smtp.start()
    mailbox.stall_next = True
    tell(bob, model)
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from notifications.tasks import send_due_emails; send_due_emails()",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "vetted.settings",
            "DATABASE_URL": database_url(),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
        },
        start_new_session=True,
    )
    try:
        assert mailbox.stalled.wait(60), "the sender never reached the server"
    finally:
        os.killpg(sender.pid, signal.SIGKILL)
        sender.wait()
    row = OutboxEmail.objects.get()
    assert row.status == EmailStatus.SENDING and row.attempts == 1

    assert send_due_emails() == 0  # a recent claim may belong to a live sender: left alone
    assert OutboxEmail.objects.get().status == EmailStatus.SENDING

    # Ten minutes later the claim has expired: no live sender can still hold it.
    OutboxEmail.objects.update(claimed_at=F("claimed_at") - timedelta(minutes=10, seconds=1))
    assert send_due_emails() == 1
    row = OutboxEmail.objects.get()
    assert (row.status, row.attempts) == (EmailStatus.SENT, 2)
    assert row.last_error == ""
    assert len(mailbox.messages) == 1


def test_beat_runs_the_sender_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["send-due-emails"]
    assert entry["schedule"] == 60.0
    assert entry["task"] == send_due_emails.name and entry["task"] in app.tasks


def test_a_claim_expires_only_after_any_live_sender_has_been_stopped():
    assert send_due_emails.time_limit < outbox.SENDING_TIMEOUT.total_seconds()


def test_people_who_turned_email_off_get_only_the_inbox_line(api_as, model, bob, people):
    carol = people["carol"]
    answer = api_as(carol).put(
        "/api/v1/notifications/preferences/",
        {"preferences": [{"event": "mention", "email": False}]},
        format="json",
    )
    assert answer.status_code == 200
    with transaction.atomic():
        notify(
            event=Event.MENTION,
            recipients=[bob, carol],
            actor=None,
            model=model,
            title="t",
            body="",
            url="/",
            dedupe_key="k",
        )
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {
        "bob",
        "carol",
    }
    assert list(OutboxEmail.objects.values_list("to_address", flat=True)) == ["bob@example.com"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_what_a_change_queued_on_commit(
    needs_postgres, needs_redis, smtp, smtp_port, model, bob
):
    mailbox = smtp.start()
    worker = Worker(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
    try:
        tell(bob, model)  # commits: the sender is queued, and the worker picks it up
        deadline = time.monotonic() + 30
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert [m["To"] for m in mailbox.messages] == ["bob@example.com"], "".join(worker.log)
    assert OutboxEmail.objects.get().status == EmailStatus.SENT

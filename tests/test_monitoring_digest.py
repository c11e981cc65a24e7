"""The monitoring e-mail: due daily or weekly per person, about the models they watch, with
the charts drawn by kaleido in Chromium as inline images, or tables and links without a
browser; through the outbox, once per period, to a real SMTP server on loopback."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from monitoring import alerts
from monitoring.digest import rule_series, send_due_digests
from monitoring.models import DigestPreference
from monitoring.tasks_watch import send_digests
from notifications import services as notification_services
from notifications.models import OutboxEmail
from notifications.tasks import send_due_emails
from tests.mail import SmtpServer, smtp_port  # noqa: F401 - a fixture
from tests.monitoring_watch import a_monitor, batch, finished_run, model_in_production

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_server(smtp_port):  # noqa: F811 - the fixture imported above
    server = SmtpServer(smtp_port)
    yield server
    server.stop()


@pytest.fixture
def watched(people, teams):
    alice, bob = people["alice"], people["bob"]
    model = model_in_production(alice, bob, teams["fraud"])
    with transaction.atomic():
        notification_services.set_watching(actor=alice, model=model, watching=True)
    monitor = a_monitor(bob, model)
    data = batch(alice, model)
    for value in (0.9, 0.88, 0.83, 0.7):
        alerts.run_finished(finished_run(monitor, data, {"roc_auc": value}))
    return model


def digests(mailbox):
    send_due_emails()
    return [m for m in mailbox.messages if "Monitoring" in m["Subject"]]


def test_the_weekly_email_has_health_alerts_and_a_chart_drawn_in_chromium(
    watched,
    mail_server,
    chromium_path,
    settings,
):
    settings.KALEIDO_BROWSER_PATH = chromium_path
    mailbox = mail_server.start()
    started = time.monotonic()
    assert send_digests() == 1  # alice watches; nobody else does
    took = time.monotonic() - started
    [message] = digests(mailbox)
    assert message["To"] == "alice@example.com"
    assert "1 critical monitor(s)" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "daily performance: critical" in text
    assert "Evaluations: 4 done, 0 failed. Alerts: 1 opened, 0 resolved." in text
    assert "https://vetted.example.com/alerts/?model=fraud-detector" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    model_id = watched.pk
    assert f'src="cid:chart-{model_id}"' in html
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == f"<chart-{model_id}>"
    assert image.get_content().startswith(b"\x89PNG")
    assert took < 60, f"drawing the charts took {took:.1f} s"


def test_a_drawing_that_fails_once_is_drawn_again(chromium_path, settings, monkeypatch):
    """kaleido on a busy machine sometimes asks before its page has loaded: one more try."""
    import kaleido
    import plotly.graph_objects as go

    from monitoring.digest import render_pngs

    settings.KALEIDO_BROWSER_PATH = chromium_path
    draw = kaleido.write_fig_from_object_sync
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("ReferenceError: kaleido_scopes is not defined")
        return draw(*args, **kwargs)

    monkeypatch.setattr(kaleido, "write_fig_from_object_sync", flaky)
    [png] = render_pngs([go.Figure(go.Scatter(y=[1, 2])).to_plotly_json()])
    assert png.startswith(b"\x89PNG") and len(calls) == 2


def test_without_a_browser_the_email_goes_with_tables_and_links(watched, mail_server, settings):
    settings.KALEIDO_BROWSER_PATH = "/nonexistent/chromium"
    mailbox = mail_server.start()
    assert send_due_digests() == 1
    [message] = digests(mailbox)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "cid:" not in html and "daily performance" in html
    assert '<td style="padding: 2px 12px 2px 0">0.7000</td>' in html  # the latest roc_auc
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "  roc_auc: 0.7000 (" in text
    assert not [part for part in message.walk() if part.get_content_type() == "image/png"]


def test_the_chart_follows_production_batches_by_their_time_not_new_versions_runs(
    watched, alice, settings
):
    """As on the Monitoring tab: a new version judged on the evaluation data later is not the
    production value, and runs stand at the time of the data they judged."""
    settings.KALEIDO_BROWSER_PATH = "/nonexistent/chromium"
    monitor = watched.monitors.get()
    older = batch(alice, watched, days_ago=3)
    alerts.run_finished(finished_run(monitor, older, {"roc_auc": 0.95}))  # finished last
    evaluation = batch(alice, watched, days_ago=0.5)
    evaluation.kind = "evaluation"
    evaluation.save(update_fields=["kind"])
    finished_run(monitor, evaluation, {"roc_auc": 0.99})
    [values] = [[v for _, v in points] for points in rule_series(watched, timezone.now()).values()]
    assert values == [0.95, 0.9, 0.88, 0.83, 0.7]


def test_the_chart_leaves_out_another_versions_runs_on_the_same_batches(watched, alice):
    """A staging version predicts for itself on production's batches: its numbers are its own,
    not production's, and stay off production's line."""
    from tests.page_factories import pushed_version

    monitor = watched.monitors.get()
    data = watched.datasets.get()
    staging = pushed_version(alice, watched)
    finished_run(monitor, data, {"roc_auc": 0.1}, version=staging)
    [values] = [[v for _, v in points] for points in rule_series(watched, timezone.now()).values()]
    assert values == [0.9, 0.88, 0.83, 0.7]


def test_it_goes_once_per_period_and_follows_the_persons_choice(watched, alice, settings):
    settings.KALEIDO_BROWSER_PATH = ""
    now = timezone.now()
    assert send_due_digests(now) == 1
    assert send_due_digests(now + timedelta(hours=1)) == 0  # a week has not passed
    assert send_due_digests(now + timedelta(days=7)) == 1
    DigestPreference.objects.filter(user=alice).update(frequency="daily")
    assert send_due_digests(now + timedelta(days=7, hours=12)) == 0
    assert send_due_digests(now + timedelta(days=8)) == 1
    DigestPreference.objects.filter(user=alice).update(frequency="off")
    assert send_due_digests(now + timedelta(days=30)) == 0
    assert OutboxEmail.objects.filter(dedupe_key__startswith="digest:").count() == 3


def test_a_repeated_run_of_the_same_period_queues_nothing_more(watched, alice, settings):
    settings.KALEIDO_BROWSER_PATH = ""
    now = timezone.now()
    assert send_due_digests(now) == 1
    DigestPreference.objects.filter(user=alice).update(last_sent_at=None)  # as if beat ran twice
    assert send_due_digests(now) == 0
    assert OutboxEmail.objects.filter(dedupe_key__startswith="digest:").count() == 1

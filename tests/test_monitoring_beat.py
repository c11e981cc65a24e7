"""Beat as `make run` starts it (`celery -A vetted beat`, its scheduler from settings) against
the test database and Redis, with a real worker: a monitor's schedule made and edited in the
browser fires, and stops when the monitor is switched off; beat installs its own schedule (the
e-mails, the sweeps for lost work, the debris) and its hourly digest reaches a real SMTP server.

Nobody waits an hour: a schedule is made due by moving its `last_run_at` back, which stands for
the time that would have passed since it last fired."""

import subprocess
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from monitoring.models import Alert, EvaluationRun, Monitor
from notifications import services as notification_services
from tests.mail import SmtpServer, smtp_port  # noqa: F401 - a fixture
from tests.monitoring_watch import batch, model_in_production
from tests.workers import CeleryProcess, start_worker  # noqa: F401 - a fixture

pytestmark = pytest.mark.worker

FORM = {
    "name": "accuracy watch",
    "kinds": ["performance", "fairness"],
    "stages": ["production"],
    "window_days": "7",
    "interval": "daily",
    "rules": "accuracy >= 0.95 0.9",
    "enabled": "on",
}
HOURLY = FORM | {"interval": "hourly"}
SWITCHED_OFF = {field: value for field, value in HOURLY.items() if field != "enabled"}  # unticked


class Beat(CeleryProcess):
    """A real `celery -A vetted beat`, the command `make run` and docker-compose use, waking at
    least every second (`--max-interval`) instead of every five so a test notices sooner; at
    DEBUG each wake-up is logged, which lets a test count beat's ticks."""

    def __init__(self):
        # PYTHONUNBUFFERED: its banner (printed, not logged) in order.
        super().__init__("beat", "--loglevel=DEBUG", "--max-interval=1", PYTHONUNBUFFERED="1")

    def lines(self, words: str) -> int:
        return sum(words in line for line in list(self.log))

    def ticks(self) -> int:
        return self.lines("beat: Waking up")

    def sent(self, entry: str) -> int:
        """How many times beat has sent the schedule entry named `entry`."""
        return self.lines(f"Sending due task {entry} (")

    def wait_ticks(self, count: int, timeout: float = 30) -> None:
        """Until beat has woken up `count` more times: an entry that is due is sent at the
        first wake-up after it falls due."""
        until = self.ticks() + count
        wait_until(lambda: self.ticks() >= until, timeout, f"beat ticking:\n{self.output()}")

    def output(self) -> str:
        return "".join(line for line in list(self.log) if "django.db.backends" not in line)

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C in `make run`: beat writes what it sent to the database, exits."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_beat(start_worker):  # noqa: F811 - the fixture imported above
    started: list[Beat] = []

    def start() -> Beat:
        beat = Beat()
        started.append(beat)  # stopped at the end even if it never ticks
        beat.wait_ticks(1, timeout=60)
        return beat

    yield start
    for beat in started:
        beat.stop()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def time_passes(task_name: str, since: timedelta) -> None:
    """The entry last fired `since` ago. A queryset update sends no signal, so beat is told the
    schedule changed the way django-celery-beat asks of bulk updates."""
    PeriodicTask.objects.filter(name=task_name).update(last_run_at=timezone.now() - since)
    PeriodicTasks.update_changed()


def test_make_runs_beat_fires_a_schedule_made_in_the_browser_and_its_own_digest(
    start_worker,  # noqa: F811 - the fixture imported above
    start_beat,
    people,
    teams,
    client,
    smtp_port,  # noqa: F811 - the fixture imported above
):
    alice, bob = people["alice"], people["bob"]
    model = model_in_production(alice, bob, teams["fraud"])
    with transaction.atomic():
        notification_services.set_watching(actor=alice, model=model, watching=True)
    batch(alice, model)
    client.force_login(bob)
    assert client.post("/models/fraud-detector/monitors/new/", FORM).status_code == 302
    monitor = Monitor.objects.get()
    task = PeriodicTask.objects.get(pk=monitor.periodic_task_id)
    entry = task.name
    time_passes(entry, timedelta(hours=2))  # due if hourly, not yet if daily
    server = SmtpServer(smtp_port)
    mailbox = server.start()
    try:
        worker = start_worker(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
        beat = start_beat()

        # Beat's own schedule, installed as it starts, names tasks the worker knows.
        assert "scheduler -> django_celery_beat.schedulers.DatabaseScheduler" in beat.output()
        installed = {t.name: t for t in PeriodicTask.objects.select_related("interval")}
        for name, wanted in settings.CELERY_BEAT_SCHEDULE.items():
            assert (installed[name].task, installed[name].enabled) == (wanted["task"], True)
            every = installed[name].interval.schedule.run_every.total_seconds()
            assert every == wanted["schedule"], name
            assert f"  . {wanted['task']}\n" in worker.log, f"the worker does not know {name}"

        # The monitor's: not due while daily; due at once when edited to hourly.
        beat.wait_ticks(3)
        assert beat.sent(entry) == 0, "a daily schedule fired two hours after its last run"
        edit = f"/models/fraud-detector/monitors/{monitor.pk}/edit/"
        assert client.post(edit, HOURLY).status_code == 302
        task.refresh_from_db()
        assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.HOURS)
        wait_until(
            lambda: (
                Alert.objects.exists()
                and EvaluationRun.objects.filter(monitor=monitor, finished_at__isnull=False).count()
                == 2
            ),
            120,
            f"the runs and the alert:\n{beat.output()}\n{''.join(worker.log)}",
        )
        runs = EvaluationRun.objects.filter(monitor=monitor).order_by("kind")
        assert [(r.kind, r.trigger, r.status) for r in runs] == [
            ("fairness", "schedule", "done"),
            ("performance", "schedule", "done"),
        ], [r.error for r in runs]
        assert Alert.objects.get().level == "critical"

        # The hourly digest, an hour on: alice watches the model, and it is critical.
        time_passes("send-monitoring-digests", timedelta(hours=1, minutes=1))
        wait_until(
            lambda: any("Monitoring" in m["Subject"] for m in mailbox.messages),
            90,
            f"the digest:\n{beat.output()}\n{''.join(worker.log)}",
        )
    finally:
        server.stop()
    [digest] = [m for m in mailbox.messages if "Monitoring" in m["Subject"]]
    assert digest["To"] == "alice@example.com"
    assert "1 critical monitor(s)" in digest["Subject"]
    assert (beat.sent(entry), beat.sent("send-monitoring-digests")) == (1, 1)

    beat.stop()  # and, as it stops, beat writes what it sent
    task.refresh_from_db()
    assert task.total_run_count == 1
    assert task.last_run_at > timezone.now() - timedelta(minutes=5)  # not two hours ago
    monitor.refresh_from_db()
    fired_at = monitor.last_run_at
    assert fired_at is not None

    # Switched off in the browser: two days on, a new beat sends nothing for it.
    assert client.post(edit, SWITCHED_OFF).status_code == 302
    task.refresh_from_db()
    assert task.enabled is False
    time_passes(entry, timedelta(days=2))  # overdue, were it still on
    beat = start_beat()
    beat.wait_ticks(3)
    assert beat.sent(entry) == 0, beat.output()
    monitor.refresh_from_db()
    assert monitor.last_run_at == fired_at
    assert EvaluationRun.objects.count() == 2

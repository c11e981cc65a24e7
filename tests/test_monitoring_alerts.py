"""Alerts from a monitor's rules: opened when a run breaks one, updated while it stays broken,
resolved when a run passes it; acknowledged and muted by owners and DevOps; watchers told in
their inbox, and by e-mail at a real SMTP server when it is critical."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from monitoring import alerts
from monitoring.models import Alert, RunStatus
from notifications import services as notification_services
from notifications.models import Notification, OutboxEmail
from notifications.tasks import send_due_emails
from tests.mail import SmtpServer, smtp_port  # noqa: F401 - a fixture
from tests.monitoring_watch import a_monitor, batch, finished_run, model_in_production
from tests.page_factories import assert_strict_page, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_server(smtp_port):  # noqa: F811 - the fixture imported above
    server = SmtpServer(smtp_port)
    yield server
    server.stop()


@pytest.fixture
def setup(people, teams):
    alice, bob = people["alice"], people["bob"]
    model = model_in_production(alice, bob, teams["fraud"])
    with transaction.atomic():
        for person in (alice, people["carol"]):
            notification_services.set_watching(actor=person, model=model, watching=True)
    return model, a_monitor(bob, model), batch(alice, model)


def judge(monitor, dataset, **summary):
    run = finished_run(monitor, dataset, summary)
    alerts.run_finished(run)
    return run


def test_a_broken_rule_opens_one_alert_updated_while_it_stays_broken(setup):
    model, monitor, data = setup
    first = judge(monitor, data, roc_auc=0.83)
    alert = Alert.objects.get()
    assert (alert.level, alert.value, alert.threshold, alert.run) == ("warning", 0.83, 0.85, first)
    assert alert.rule_key == "roc_auc >=" and "roc_auc is 0.83" in alert.message

    second = judge(monitor, data, roc_auc=0.84)
    alert = Alert.objects.get()
    assert (alert.value, alert.run, alert.resolved_at) == (0.84, second, None)
    assert alert.last_seen_at > alert.opened_at


def test_it_turns_critical_then_resolves_when_a_run_passes(setup):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.84)
    judge(monitor, data, roc_auc=0.7)
    alert = Alert.objects.get()
    assert (alert.level, alert.threshold) == ("critical", 0.8)

    judge(monitor, data, roc_auc=0.9)
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.value == 0.9
    judge(monitor, data, roc_auc=0.7)
    assert Alert.objects.count() == 2, "a new failure after a resolve is a new alert"


def test_a_run_on_older_data_ending_late_does_not_undo_the_newer_verdict(setup, alice):
    model, monitor, data = setup  # a batch of a day ago
    judge(monitor, data, roc_auc=0.9)
    judge(monitor, batch(alice, model, days_ago=3), roc_auc=0.7)  # a backfill ending later
    assert not Alert.objects.exists()
    judge(monitor, data, roc_auc=0.7)
    judge(monitor, batch(alice, model, days_ago=2), roc_auc=0.95)
    assert Alert.objects.get().resolved_at is None


def test_runs_that_say_nothing_of_the_rule_change_nothing(setup):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.7)
    judge(monitor, data, roc_auc=None, accuracy=0.99)  # null, or not this run's metric
    alerts.run_finished(finished_run(monitor, data, {}, status=RunStatus.FAILED))
    assert Alert.objects.get().resolved_at is None


def test_the_same_run_twice_opens_one_alert(setup):
    model, monitor, data = setup
    run = judge(monitor, data, roc_auc=0.7)
    alerts.run_finished(run)
    assert Alert.objects.count() == 1


def test_watchers_hear_of_a_warning_in_the_app_only(setup, people):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.83)
    told = Notification.objects.filter(event="alert")
    assert sorted(n.recipient.username for n in told) == ["alice", "carol"]
    assert told[0].title.startswith("Warning: fraud-detector v1: roc_auc is 0.83")
    assert not OutboxEmail.objects.filter(subject__contains="roc_auc").exists()


def test_a_critical_alert_and_its_resolve_reach_the_smtp_server_at_once(setup, mail_server):
    mailbox = mail_server.start()
    model, monitor, data = setup

    def told():
        send_due_emails()
        return [m for m in mailbox.messages if "roc_auc" in m["Subject"]]

    judge(monitor, data, roc_auc=0.83)
    assert told() == []  # a warning: the inbox only
    judge(monitor, data, roc_auc=0.7)  # turns critical: e-mailed
    mails = told()
    assert sorted(m["To"] for m in mails) == ["alice@example.com", "carol@example.com"]
    assert (
        mails[0]["Subject"]
        .strip()
        .startswith("[Vetted] Critical: fraud-detector v1: roc_auc is 0.7")
    )
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert "https://vetted.example.com/alerts/?model=fraud-detector" in text

    judge(monitor, data, roc_auc=0.7)  # still failing: nothing new
    assert len(told()) == 2
    judge(monitor, data, roc_auc=0.95)
    mails = told()
    assert len(mails) == 4
    assert mails[-1]["Subject"].strip().startswith("[Vetted] Resolved: fraud-detector v1")


def test_a_muted_alert_is_silent_until_its_mute_ends(setup, people):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.83)
    alert = Alert.objects.get()
    alerts.mute(actor=people["bob"], alert=alert, minutes=60)
    judge(monitor, data, roc_auc=0.7)
    judge(monitor, data, roc_auc=0.9)
    assert Notification.objects.filter(event="alert").count() == 2  # the opening only
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.level == "critical"


# --- The API ----------------------------------------------------------------------------------


@pytest.fixture
def open_alert(setup):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.7)
    return Alert.objects.get()


def test_the_api_lists_alerts_of_the_models_the_caller_sees(open_alert, people, api_as):
    body = api_as(people["victor"]).get("/api/v1/alerts/").json()
    assert body["count"] == 1
    [row] = body["results"]
    assert row | {"opened_at": None, "last_seen_at": None} == {
        "id": open_alert.pk,
        "model": "fraud-detector",
        "version": 1,
        "monitor": "daily performance",
        "rule": "roc_auc >=",
        "level": "critical",
        "message": open_alert.message,
        "value": 0.7,
        "threshold": 0.8,
        "run": open_alert.run_id,
        "opened_at": None,
        "last_seen_at": None,
        "resolved_at": None,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "muted_until": None,
    }
    assert api_as(people["mallory"]).get("/api/v1/alerts/").json()["count"] == 0
    assert api_as(people["victor"]).get("/api/v1/alerts/?state=resolved").json()["count"] == 0
    assert api_as(people["victor"]).get("/api/v1/alerts/?model=other").json()["count"] == 0
    bad = api_as(people["victor"]).get("/api/v1/alerts/?state=closed")
    assert bad.status_code == 400 and "state" in bad.json()["error"]["detail"]


@pytest.mark.parametrize(
    ("who", "code"),
    [("alice", 200), ("bob", 200), ("carol", 403), ("victor", 403), ("mallory", 404)],
)
def test_owners_and_devops_acknowledge_and_mute(open_alert, people, api_as, who, code):
    client = api_as(people[who])
    answer = client.post(f"/api/v1/alerts/{open_alert.pk}/acknowledge/")
    assert answer.status_code == code
    muted = client.post(f"/api/v1/alerts/{open_alert.pk}/mute/", {"minutes": 90})
    assert muted.status_code == code
    open_alert.refresh_from_db()
    if code == 200:
        assert open_alert.acknowledged_by == people[who]
        assert muted.json()["muted_until"] is not None
        left = open_alert.muted_until - timezone.now()
        assert timedelta(minutes=89) < left <= timedelta(minutes=90)
    else:
        assert open_alert.acknowledged_at is None and open_alert.muted_until is None


def test_a_mute_out_of_range_or_of_the_wrong_type_is_a_400(open_alert, bob, api_as):
    client = api_as(bob)
    for minutes in (-1, 60 * 24 * 31, "60"):
        answer = client.post(f"/api/v1/alerts/{open_alert.pk}/mute/", {"minutes": minutes})
        assert answer.status_code == 400 and "minutes" in answer.json()["error"]["detail"]
    assert client.post(f"/api/v1/alerts/{open_alert.pk}/mute/", {"minutes": 0}).status_code == 200


def test_a_read_token_cannot_acknowledge(open_alert, bob, api_as):
    answer = api_as(bob, "read").post(f"/api/v1/alerts/{open_alert.pk}/acknowledge/")
    assert answer.status_code == 403


def test_acknowledging_a_resolved_alert_is_a_400(setup, bob, api_as):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.7)
    judge(monitor, data, roc_auc=0.9)
    alert = Alert.objects.get()
    answer = api_as(bob).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert answer.status_code == 400 and "resolved" in answer.json()["error"]["message"]


# --- The page ---------------------------------------------------------------------------------


def test_the_alerts_page_shows_buttons_to_those_who_may_use_them(open_alert, client, people):
    client.force_login(people["victor"])
    page = client.get("/alerts/")
    assert open_alert.message in page.content.decode()
    assert "Acknowledge" not in page.content.decode()
    client.force_login(people["bob"])
    page = client.get("/alerts/")
    assert_strict_page(page)
    assert "Acknowledge" in page.content.decode()
    response = client.post(f"/alerts/{open_alert.pk}/acknowledge/")
    assert response.status_code == 302
    open_alert.refresh_from_db()
    assert open_alert.acknowledged_by == people["bob"]
    client.post(f"/alerts/{open_alert.pk}/mute/", {"minutes": "60"})
    open_alert.refresh_from_db()
    assert open_alert.muted_until is not None
    client.force_login(people["mallory"])
    assert open_alert.message not in client.get("/alerts/").content.decode()
    assert client.post(f"/alerts/{open_alert.pk}/acknowledge/").status_code == 404


def test_the_alerts_page_costs_the_same_queries_for_one_or_many(setup, client, people):
    model, monitor, data = setup
    judge(monitor, data, roc_auc=0.7)
    client.force_login(people["bob"])
    one = count_queries(client, "/alerts/")
    for n in range(3):
        other = a_monitor(people["bob"], model, name=f"m{n}")
        judge(other, data, roc_auc=0.7)
    assert count_queries(client, "/alerts/") == one

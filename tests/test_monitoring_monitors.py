"""Monitors through the API and the pages: owners and DevOps make, change and delete them,
others read (or are 404 outside the team); each keeps a django-celery-beat schedule in step,
and what beat fires is the task it names."""

import json

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from audit.models import AuditEvent
from monitoring import monitors
from monitoring.models import Alert, EvaluationRun, Monitor
from monitoring.tasks import run_evaluation
from monitoring.tasks_watch import run_monitor
from tests.monitoring_watch import ROC_RULE, a_monitor, batch, model_in_production
from tests.page_factories import assert_strict_page
from vetted.celery import app

pytestmark = pytest.mark.django_db

M = "/api/v1/models/fraud-detector/monitors"
BODY = {
    "name": "drift watch",
    "kinds": ["drift", "performance"],
    "stages": ["production"],
    "window_days": 14,
    "interval": "hourly",
    "rules": [
        ROC_RULE,
        {"metric": "share_drifted", "op": "<=", "warning": 0.2, "critical": 0.5},
    ],
}


@pytest.fixture
def model(people, teams):
    return model_in_production(people["alice"], people["bob"], teams["fraud"])


@pytest.mark.parametrize(
    ("who", "code"),
    [("alice", 201), ("bob", 201), ("carol", 403), ("victor", 403), ("mallory", 404)],
)
def test_owners_and_devops_make_monitors(model, people, api_as, who, code):
    answer = api_as(people[who]).post(f"{M}/", BODY)
    assert answer.status_code == code, answer.content
    assert Monitor.objects.exists() is (code == 201)
    if code == 201:
        body = answer.json()
        assert body["kinds"] == ["performance", "drift"] and body["window_days"] == 14
        assert body["rules"][1] == {
            "metric": "share_drifted",
            "op": "<=",
            "warning": 0.2,
            "critical": 0.5,
        }
        assert body["url"] == f"/models/fraud-detector/monitors/{body['id']}/edit/"


def test_the_schedule_is_made_with_the_monitor_and_names_its_task(model, bob, api_as):
    made = api_as(bob).post(f"{M}/", BODY).json()
    monitor = Monitor.objects.get(pk=made["id"])
    task = PeriodicTask.objects.get(pk=monitor.periodic_task_id)
    app.loader.import_default_modules()  # what a worker imports as it starts (CELERY_IMPORTS)
    assert task.task == "monitoring.tasks_watch.run_monitor" and task.task in app.tasks
    assert json.loads(task.args) == [monitor.pk] and task.enabled
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.HOURS)
    assert AuditEvent.objects.filter(verb="monitor.created", object_id=str(monitor.pk)).exists()


def test_a_change_moves_the_schedule_and_switching_off_stops_it(model, bob, api_as):
    made = api_as(bob).post(f"{M}/", BODY).json()
    answer = api_as(bob).patch(f"{M}/{made['id']}/", {"interval": "weekly", "enabled": False})
    assert answer.status_code == 200 and answer.json()["enabled"] is False
    task = PeriodicTask.objects.get()
    assert (task.interval.every, task.interval.period, task.enabled) == (
        7,
        IntervalSchedule.DAYS,
        False,
    )
    event = AuditEvent.objects.get(verb="monitor.edited")
    assert event.before == {"interval": "hourly", "enabled": True}
    assert event.after == {"interval": "weekly", "enabled": False}


def test_a_partial_change_leaves_the_other_fields_alone(model, bob, api_as):
    made = api_as(bob).post(f"{M}/", BODY | {"enabled": False}).json()
    changed = api_as(bob).patch(f"{M}/{made['id']}/", {"name": "renamed"}).json()
    assert changed | {"name": "drift watch"} == made
    assert PeriodicTask.objects.get().enabled is False


def test_deleting_a_monitor_deletes_its_schedule(model, bob, api_as):
    made = api_as(bob).post(f"{M}/", BODY).json()
    assert api_as(bob).delete(f"{M}/{made['id']}/").status_code == 204
    assert not Monitor.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="monitor:").exists()
    assert AuditEvent.objects.filter(verb="monitor.deleted").exists()


@pytest.mark.parametrize(("who", "code"), [("carol", 403), ("victor", 403), ("mallory", 404)])
def test_others_cannot_change_or_delete_a_monitor(model, people, api_as, who, code):
    monitor = a_monitor(people["bob"], model)
    client = api_as(people[who])
    assert client.patch(f"{M}/{monitor.pk}/", {"enabled": False}).status_code == code
    assert client.delete(f"{M}/{monitor.pk}/").status_code == code
    assert client.post(f"{M}/{monitor.pk}/run/").status_code == code
    monitor.refresh_from_db()
    assert monitor.enabled


def test_members_read_monitors_and_another_team_gets_a_404(model, people, api_as):
    monitor = a_monitor(people["bob"], model)
    listed = api_as(people["victor"]).get(f"{M}/")
    assert [m["name"] for m in listed.json()] == ["daily performance"]
    assert api_as(people["victor"]).get(f"{M}/{monitor.pk}/").json()["rules"] == [ROC_RULE]
    assert api_as(people["mallory"]).get(f"{M}/").status_code == 404
    assert api_as(people["victor"]).get(f"{M}/{monitor.pk + 1}/").status_code == 404


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kinds": []}, "kinds"),
        ({"kinds": ["speed"]}, "kinds"),
        ({"stages": ["archived"]}, "stages"),
        ({"window_days": 0}, "window_days"),
        ({"window_days": "7"}, "window_days"),
        ({"interval": "monthly"}, "interval"),
        ({"rules": [{"metric": "roc_auc", "op": "=="}]}, "op"),
        ({"rules": [{"metric": "roc_auc", "op": ">="}]}, "warning or a critical level"),
        (
            {"rules": [{"metric": "roc_auc", "op": ">=", "warning": 0.8, "critical": 0.9}]},
            "critical level must be at least as far",
        ),
        ({"rules": [ROC_RULE, ROC_RULE]}, "already a rule"),
        ({"name": "daily performance"}, "already has a monitor"),
    ],
)
def test_bad_monitors_are_400s_that_say_what_is_wrong(model, bob, api_as, change, words):
    a_monitor(bob, model)
    answer = api_as(bob).post(f"{M}/", BODY | change)
    assert answer.status_code == 400
    assert words in json.dumps(answer.json()), answer.json()
    assert Monitor.objects.count() == 1


def test_a_read_token_cannot_make_a_monitor(model, bob, api_as):
    assert api_as(bob, "read").post(f"{M}/", BODY).status_code == 403


# --- Pages ------------------------------------------------------------------------------------

FORM = {
    "name": "weekly fairness",
    "kinds": ["fairness"],
    "stages": ["production", "staging"],
    "window_days": "7",
    "interval": "daily",
    "rules": "min_disparate_impact_ratio >= 0.8 0.6\nshare_drifted <= 0.3 -",
    "enabled": "on",
}


def test_a_monitor_made_in_the_browser_is_scheduled_and_can_be_edited(model, client, bob):
    client.force_login(bob)
    assert client.get("/models/fraud-detector/monitors/new/").status_code == 200
    response = client.post("/models/fraud-detector/monitors/new/", FORM)
    monitor = Monitor.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/models/fraud-detector/monitors/{monitor.pk}/edit/"
    assert monitor.rules == [
        {"metric": "min_disparate_impact_ratio", "op": ">=", "warning": 0.8, "critical": 0.6},
        {"metric": "share_drifted", "op": "<=", "warning": 0.3, "critical": None},
    ]
    assert monitor.stages == ["production", "staging"]
    task = PeriodicTask.objects.get(pk=monitor.periodic_task_id)
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.DAYS)

    response = client.get(f"/models/fraud-detector/monitors/{monitor.pk}/edit/")
    assert_strict_page(response)
    page = response.content.decode()
    assert "min_disparate_impact_ratio &gt;= 0.8 0.6" in page and "Run now" in page
    client.post(
        f"/models/fraud-detector/monitors/{monitor.pk}/edit/", FORM | {"interval": "hourly"}
    )
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.HOURS)

    client.post(f"/models/fraud-detector/monitors/{monitor.pk}/delete/")
    assert not Monitor.objects.exists() and not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_a_bad_rule_line_is_shown_on_the_form(model, client, bob):
    client.force_login(bob)
    response = client.post(
        "/models/fraud-detector/monitors/new/", FORM | {"rules": "roc_auc >= high 0.8"}
    )
    assert response.status_code == 400
    assert "Line 1: &#x27;high&#x27; is not a number" in response.content.decode()
    assert not Monitor.objects.exists()


@pytest.mark.parametrize(("who", "code"), [("carol", 403), ("victor", 403), ("mallory", 404)])
def test_the_monitor_pages_are_for_owners_and_devops(model, client, people, who, code):
    monitor = a_monitor(people["bob"], model)
    client.force_login(people[who])
    assert client.get("/models/fraud-detector/monitors/new/").status_code == code
    assert client.post("/models/fraud-detector/monitors/new/", FORM).status_code == code
    edit = f"/models/fraud-detector/monitors/{monitor.pk}/edit/"
    assert client.get(edit).status_code == code
    assert client.post(edit, FORM).status_code == code
    assert client.post(f"/models/fraud-detector/monitors/{monitor.pk}/delete/").status_code == code
    assert Monitor.objects.get().name == "daily performance"


def test_the_monitoring_email_setting_is_saved(client, alice):
    client.force_login(alice)
    assert client.get("/settings/monitoring/").status_code == 200
    client.post("/settings/monitoring/", {"frequency": "daily"})
    assert alice.monitoring_digest.frequency == "daily"
    assert AuditEvent.objects.filter(verb="preferences.changed", actor_name="alice").exists()


# --- What beat fires --------------------------------------------------------------------------


def test_the_schedule_made_in_the_browser_fires_evaluations_that_open_alerts(
    model, client, people, settings
):

    alice, bob = people["alice"], people["bob"]
    old, middle, newest = (batch(alice, model, days_ago=d) for d in (20, 5, 1))
    client.force_login(bob)
    form = FORM | {
        "kinds": ["performance", "fairness", "drift"],
        "window_days": "7",
        "rules": "accuracy >= 0.9 0.8",
    }
    client.post("/models/fraud-detector/monitors/new/", form)
    monitor = Monitor.objects.get()
    task = PeriodicTask.objects.get(pk=monitor.periodic_task_id)

    app.loader.import_default_modules()
    fired = app.tasks[task.task].apply(args=json.loads(task.args), kwargs=json.loads(task.kwargs))
    assert fired.get() == 2  # no reference dataset: no drift; staging has no version

    runs = EvaluationRun.objects.filter(monitor=monitor).order_by("kind")
    assert [(r.kind, r.trigger, r.dataset_id) for r in runs] == [
        ("fairness", "schedule", newest.pk),
        ("performance", "schedule", newest.pk),
    ]
    assert [list(r.window.all()) for r in runs] == [[middle], [middle]]  # 20 days ago: outside
    assert app.tasks[task.task].apply(args=json.loads(task.args)).get() == 2
    assert EvaluationRun.objects.count() == 2, "the same window asks for the same runs"

    for run in runs:
        run_evaluation(run.pk)
    performance = EvaluationRun.objects.get(kind="performance")
    assert performance.status == "done", performance.error
    accuracy = performance.metrics["summary"]["accuracy"]
    alert = Alert.objects.get()
    assert (alert.run, alert.value, alert.level) == (performance, accuracy, "critical")
    monitor.refresh_from_db()
    assert monitor.last_run_at is not None


def test_run_now_asks_for_the_evaluations_at_once(model, people, api_as):

    batch(people["alice"], model)
    monitor = api_as(people["bob"]).post(f"{M}/", BODY).json()
    answer = api_as(people["bob"]).post(f"{M}/{monitor['id']}/run/")
    assert answer.status_code == 202
    runs = EvaluationRun.objects.filter(pk__in=answer.json()["runs"])
    assert [(r.kind, r.trigger) for r in runs] == [("performance", "manual")]  # no reference


def test_a_switched_off_or_deleted_monitor_fires_nothing(model, bob):

    monitor = a_monitor(bob, model)
    monitors.update_monitor(actor=bob, monitor=monitor, enabled=False)
    assert run_monitor(monitor.pk) == 0
    assert run_monitor(monitor.pk + 100) == 0

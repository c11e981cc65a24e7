"""Load checks are rows: one per attempt, claimed once, retried as new attempts, history kept."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from registry import services
from registry.models import LoadCheck, ModelVersion
from registry.tasks import requeue_stalled_load_checks, run_load_check
from tests.test_api_versions import push_archive


@pytest.fixture
def version(api_as, alice, sklearn_model_dir) -> ModelVersion:
    assert push_archive(api_as(alice), sklearn_model_dir).status_code == 201
    return ModelVersion.objects.select_related("latest_load_check").get()


def test_a_push_saves_a_pending_check_and_the_version_points_at_it(version):
    check = version.latest_load_check
    assert check.status == "pending" and check.attempt == 1 and check.started_at is None
    assert list(version.load_checks.all()) == [check]


def test_a_check_is_claimed_once_however_often_it_is_delivered(version):
    first = services.claim_load_check(check_id=version.latest_load_check_id, worker="w1")
    again = services.claim_load_check(check_id=version.latest_load_check_id, worker="w2")
    assert first is not None and again is None
    check = LoadCheck.objects.get(pk=version.latest_load_check_id)
    assert check.status == "running" and check.worker == "w1" and check.started_at


def test_only_one_check_of_a_version_is_open_at_a_time(version):
    with pytest.raises(IntegrityError), transaction.atomic():
        LoadCheck.objects.create(version=version, attempt=2)
    assert services.retry_load_check(version=version, reason="again") is None


def last_heard(check_id: int, seconds_ago: float) -> None:
    """What a worker that stopped beating leaves behind."""
    at = timezone.now() - timedelta(seconds=seconds_ago)
    LoadCheck.objects.filter(pk=check_id).update(heartbeat_at=at)


def test_a_check_whose_worker_died_ends_errored_and_is_tried_again(version, settings):
    settings.LOAD_CHECK_HEARTBEAT_SECONDS = 15
    check_id = version.latest_load_check_id
    services.claim_load_check(check_id=check_id, worker="worker-that-died")
    last_heard(check_id, seconds_ago=40)
    assert requeue_stalled_load_checks() == 0  # two beats missed: maybe only slow
    last_heard(check_id, seconds_ago=50)

    assert requeue_stalled_load_checks() == 1

    abandoned = LoadCheck.objects.get(pk=check_id)
    assert abandoned.status == "errored"
    assert abandoned.error.startswith("The worker stopped answering during the check (last heard")
    assert abandoned.error.endswith(" UTC from worker-that-died); checking again.")
    version.refresh_from_db()
    retry = version.latest_load_check
    assert retry.attempt == 2 and retry.status == "pending"
    assert retry.reason.startswith("attempt 1 was lost: its worker stopped answering")
    run_load_check(retry.pk)  # what the worker that gets the new attempt does
    assert LoadCheck.objects.get(pk=retry.pk).status == "passed"
    verbs = list(AuditEvent.objects.filter(model_name="iris").values_list("verb", flat=True))
    assert verbs.count("load_check.finished") == 2 and "load_check.queued" in verbs


def test_a_pending_check_whose_message_was_lost_is_sent_again_as_it_is(version):
    LoadCheck.objects.filter(pk=version.latest_load_check_id).update(
        queued_at=timezone.now() - timedelta(hours=2)
    )
    assert requeue_stalled_load_checks() == 1
    assert LoadCheck.objects.get(pk=version.latest_load_check_id).status == "pending"
    assert LoadCheck.objects.count() == 1


def test_a_long_check_whose_worker_still_beats_is_left_running(version):
    check_id = version.latest_load_check_id
    services.claim_load_check(check_id=check_id, worker="busy")
    LoadCheck.objects.filter(pk=check_id).update(started_at=timezone.now() - timedelta(hours=2))
    last_heard(check_id, seconds_ago=1)
    assert requeue_stalled_load_checks() == 0
    assert LoadCheck.objects.get(pk=check_id).status == "running"


def test_a_check_claimed_before_heartbeats_existed_keeps_the_long_grace(version):
    check_id = version.latest_load_check_id
    services.claim_load_check(check_id=check_id, worker="old-worker")
    LoadCheck.objects.filter(pk=check_id).update(heartbeat_at=None)
    assert requeue_stalled_load_checks() == 0
    LoadCheck.objects.filter(pk=check_id).update(started_at=timezone.now() - timedelta(hours=2))
    assert requeue_stalled_load_checks() == 1
    assert LoadCheck.objects.get(pk=check_id).status == "errored"


def test_a_check_lost_again_and_again_stops_being_retried_after_five_attempts(version):
    for attempt in range(1, 6):
        version.refresh_from_db()
        check_id = version.latest_load_check_id
        assert LoadCheck.objects.get(pk=check_id).attempt == attempt
        services.claim_load_check(check_id=check_id, worker="killed-each-time")
        last_heard(check_id, seconds_ago=3600)
        assert requeue_stalled_load_checks() == 1
    last = LoadCheck.objects.get(pk=check_id)
    assert last.status == "errored" and last.error.endswith("not checked again after 5 attempts.")
    assert LoadCheck.objects.count() == 5
    assert requeue_stalled_load_checks() == 0  # nor by the retry of errored checks


def test_a_late_answer_from_a_worker_that_was_given_up_on_is_not_recorded(version):
    check_id = version.latest_load_check_id
    services.claim_load_check(check_id=check_id, worker="slow")
    last_heard(check_id, seconds_ago=3600)
    requeue_stalled_load_checks()
    assert not services.finish_load_check(check_id=check_id, status="passed", seconds=1.0)
    assert LoadCheck.objects.get(pk=check_id).status == "errored"


def test_the_api_lists_attempts_and_checks_again_on_request(api_as, alice, people, version):
    client = api_as(alice)
    url = "/api/v1/models/iris/versions/1/load-checks/"
    busy = client.post(url)
    assert busy.status_code == 409 and "still queued or running" in busy.json()["error"]["message"]

    run_load_check(version.latest_load_check_id)
    again = client.post(url)
    assert again.status_code == 202 and again.json()["attempt"] == 2
    listed = client.get(url).json()
    assert [(c["attempt"], c["status"]) for c in listed] == [(2, "pending"), (1, "passed")]
    detail = client.get("/api/v1/models/iris/versions/1/").json()["load_check"]
    assert detail["attempt"] == 2 and detail["status"] == "pending"

    assert api_as(people["carol"]).post(url).status_code == 403
    assert api_as(people["mallory"]).get(url).status_code == 404


def test_the_page_shows_earlier_attempts_and_checks_again(client, alice, version):
    run_load_check(version.latest_load_check_id)
    LoadCheck.objects.filter(pk=version.latest_load_check_id).update(
        status="errored", error="Sandbox unavailable: bubblewrap is not installed."
    )
    client.force_login(alice)
    page = client.get("/models/iris/versions/1/").content.decode()
    assert "Check again" in page and "Attempt 1" in page

    response = client.post("/models/iris/versions/1/load-check/retry/", follow=True)
    html = response.content.decode()
    assert "being checked again" in html and "Load check queued" in html
    assert "Earlier attempts (1)" in html and "Sandbox unavailable" in html

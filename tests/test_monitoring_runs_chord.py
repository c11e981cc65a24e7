"""A big evaluation fans its predictions out across workers (a Celery chord): one sandbox per
slice of rows, each writing a part; the chord's callback computes the numbers one worker would."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from sklearn import metrics as sk

from monitoring import fanout, services
from monitoring.evaluate import PREDICTING
from monitoring.models import EvaluationRun
from monitoring.services import request_evaluation
from monitoring.tasks import requeue_stalled_evaluations, run_evaluation
from registry.models import ModelVersion, RegisteredModel
from registry.services import artifact_storage
from tests.monitoring_datasets import FEATURES, credit_frame, credit_model  # noqa: F401 - a fixture
from tests.test_api_versions import push_archive
from tests.test_monitoring_runs import ask, upload
from tests.workers import push, start_worker, wait_for_checks  # noqa: F401 - a fixture
from vetted.celery import app as celery_app


def parts_left(run_id: int) -> list[str]:
    try:
        return artifact_storage().listdir(fanout.parts_folder(run_id))[1]
    except FileNotFoundError:
        return []


def assert_sklearns_numbers(metrics: dict, frame, estimator) -> None:
    predicted = estimator.predict(frame[FEATURES])
    score = estimator.predict_proba(frame[FEATURES])[:, 1]
    overall = metrics["overall"]
    assert overall["accuracy"] == pytest.approx(sk.accuracy_score(frame["y"], predicted), abs=1e-9)
    assert overall["f1"] == pytest.approx(sk.f1_score(frame["y"], predicted), abs=1e-9)
    assert overall["roc_auc"] == pytest.approx(sk.roc_auc_score(frame["y"], score), abs=1e-9)
    assert overall["log_loss"] == pytest.approx(sk.log_loss(frame["y"], score), abs=1e-9)
    assert metrics["rows"] == len(frame)


@pytest.fixture
def eager_celery():
    """The chord run in this process, slice after slice, as Celery's eager mode does."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_a_fanned_out_run_has_the_numbers_of_one_worker(
    api_as,
    alice,
    credit_model,  # noqa: F811
    settings,
    eager_celery,
):
    client = api_as(alice)
    for _ in range(2):  # the same model twice: versions 1 and 2 predict alike
        assert push_archive(client, credit_model[0], model="credit").status_code == 201
    model = RegisteredModel.objects.get(name="credit")
    frame = credit_frame(700, seed=3)
    dataset = upload(alice, model, frame, "evaluation", label="y", protected=["group"])
    one = ask(client, "credit", version=1, kind="performance", dataset=dataset.pk).json()["id"]
    run_evaluation(one)
    settings.EVALUATION_FAN_OUT_ROWS = 200

    fanned = ask(client, "credit", version=2, kind="performance", dataset=dataset.pk).json()["id"]
    run_evaluation(fanned)

    single, spread = (EvaluationRun.objects.get(pk=pk) for pk in (one, fanned))
    assert spread.status == "done", spread.error
    assert (single.slices, spread.slices, spread.slices_done) == (0, 4, 4)
    assert spread.metrics == single.metrics
    assert spread.progress == 1
    assert_sklearns_numbers(spread.metrics, frame, credit_model[1])
    assert parts_left(fanned) == []


def test_a_fanned_out_run_is_given_the_pending_grace_before_it_counts_as_stalled(
    api_as,
    alice,
    credit_model,  # noqa: F811
    settings,
):
    settings.LOAD_CHECK_HEARTBEAT_SECONDS = 15
    client = api_as(alice)
    assert push_archive(client, credit_model[0], model="credit").status_code == 201
    model = RegisteredModel.objects.get(name="credit")
    dataset = upload(alice, model, credit_frame(300, seed=4), "evaluation", label="y")
    run_id = ask(client, "credit", version=1, kind="performance", dataset=dataset.pk).json()["id"]
    silent = {"status": "running", "slices": 3, "started_at": timezone.now()}

    # Its slices wait in the queue behind other work: a minute of silence is no death.
    EvaluationRun.objects.filter(pk=run_id).update(
        **silent, heartbeat_at=timezone.now() - timedelta(seconds=60)
    )
    assert requeue_stalled_evaluations() == 0
    # Silent past the time an evaluation may take: its slices are gone.
    long_ago = timezone.now() - timedelta(seconds=settings.EVALUATION_TIMEOUT_SECONDS + 360)
    EvaluationRun.objects.filter(pk=run_id).update(heartbeat_at=long_ago)
    assert requeue_stalled_evaluations() == 1
    assert EvaluationRun.objects.get(pk=run_id).status == "failed"


def test_the_run_page_shows_the_share_of_slices_done(client, api_as, alice, credit_model):  # noqa: F811
    assert push_archive(api_as(alice), credit_model[0], model="credit").status_code == 201
    model = RegisteredModel.objects.get(name="credit")
    dataset = upload(alice, model, credit_frame(300, seed=5), "evaluation", label="y")
    run_id = ask(api_as(alice), "credit", version=1, kind="performance", dataset=dataset.pk)
    run_id = run_id.json()["id"]
    services.claim_evaluation(run_id=run_id, worker="dispatcher")
    services.record_fan_out(run_id=run_id, slices=3)

    for _ in range(2):
        services.record_slice_done(run_id=run_id, predicting=PREDICTING)
    assert "2 of 3 slices predicted" in client_page(client, alice, run_id)
    for _ in range(2):  # one more than there are slices: the count stops at them
        services.record_slice_done(run_id=run_id, predicting=PREDICTING)

    run = EvaluationRun.objects.get(pk=run_id)
    assert (run.slices, run.slices_done) == (3, 3)
    assert run.progress == pytest.approx(PREDICTING)
    assert "3 of 3 slices predicted" in client_page(client, alice, run_id)


def client_page(client, user, run_id: int) -> str:
    client.force_login(user)
    page = client.get(f"/evaluations/{run_id}/")
    assert page.status_code == 200
    return page.content.decode()


# --- With a real worker on Redis ---------------------------------------------------------------


def wait_for_run(run_id: int, timeout: float = 240) -> EvaluationRun:
    deadline = time.monotonic() + timeout
    progress_seen = set()
    while time.monotonic() < deadline:
        run = EvaluationRun.objects.get(pk=run_id)
        progress_seen.add(run.progress)
        if run.done:
            run.progress_seen = progress_seen
            return run
        time.sleep(0.3)
    pytest.fail(f"run {run_id} did not end: {run.status} {run.progress_note}")


def test_workers_predict_slices_of_a_big_dataset_and_the_callback_ends_the_run(
    start_worker,  # noqa: F811
    api_as,
    alice,
    credit_model,  # noqa: F811
):
    worker = start_worker(EVALUATION_FAN_OUT_ROWS="300")
    client = api_as(alice)
    push(client, "credit", credit_model[0])
    wait_for_checks(["credit"])
    model = RegisteredModel.objects.get(name="credit")
    version = ModelVersion.objects.get(model=model, number=1)
    frame = credit_frame(1000, seed=8)
    alone, spread = (upload(alice, model, frame, "evaluation", label="y") for _ in range(2))
    with transaction.atomic():  # run here, by this process, before the worker sees its message
        single, _ = request_evaluation(
            actor=alice, version=version, kind="performance", dataset=alone
        )
        run_evaluation(single.pk)

    run_id = ask(client, "credit", version=1, kind="performance", dataset=spread.pk).json()["id"]

    run = wait_for_run(run_id)
    assert run.status == "done", run.error + "".join(worker.log[-40:])
    assert (run.slices, run.slices_done, run.progress) == (4, 4, 1)
    alone_metrics = EvaluationRun.objects.get(pk=single.pk).metrics
    assert alone_metrics.pop("predictions") == {"recorded": [], "made": [alone.pk]}
    assert run.metrics.pop("predictions") == {"recorded": [], "made": [spread.pk]}
    assert run.metrics == alone_metrics
    assert_sklearns_numbers(run.metrics, frame, credit_model[1])
    assert parts_left(run_id) == []
    shown = client.get(f"/api/v1/evaluations/{run_id}/").json()
    assert shown["status"] == "done" and shown["progress"] == 1


def test_a_slice_that_fails_fails_the_run_with_its_error_and_leaves_no_parts(
    start_worker,  # noqa: F811
    api_as,
    alice,
    credit_model,  # noqa: F811
):
    start_worker(EVALUATION_FAN_OUT_ROWS="300")
    client = api_as(alice)
    push(client, "credit", credit_model[0])
    wait_for_checks(["credit"])
    model = RegisteredModel.objects.get(name="credit")
    frame = credit_frame(1000, seed=9)
    frame.loc[800:820, "income"] = float("nan")  # only the last slice: LogisticRegression refuses
    dataset = upload(alice, model, frame, "evaluation", label="y")

    run_id = ask(client, "credit", version=1, kind="performance", dataset=dataset.pk).json()["id"]

    run = wait_for_run(run_id)
    assert run.status == "failed" and run.metrics == {}
    assert "NaN" in run.error and "/sandbox/" not in run.error, run.error
    deadline = time.monotonic() + 60  # the chord's error callback runs once every slice is in
    while parts_left(run_id) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert parts_left(run_id) == []

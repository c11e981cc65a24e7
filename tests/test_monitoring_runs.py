"""Evaluation runs are rows: asked for once, claimed once, computed from predictions made in the
sandbox, finished once; the worker's part is called here as the task function it is."""

import io
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from django.utils import timezone
from sklearn import metrics as sk

from audit.models import AuditEvent
from audit.verbs import describe
from monitoring.datasets import store_dataset
from monitoring.models import EvaluationRun
from monitoring.tasks import requeue_stalled_evaluations, run_evaluation
from registry.models import ModelVersion, RegisteredModel
from tests import monitoring_datasets
from tests.conftest import pyfunc_model_dir
from tests.monitoring_datasets import FEATURES, credit_frame
from tests.test_api_versions import push_archive

credit_model = monitoring_datasets.credit_model  # a fixture


def upload(actor, model, frame: pd.DataFrame, kind: str, **roles):
    return store_dataset(
        actor=actor,
        model=model,
        file=io.BytesIO(frame.to_csv(index=False).encode()),
        filename=f"{kind}.csv",
        kind=kind,
        **roles,
    )


@pytest.fixture
def credit(api_as, alice, credit_model):
    """Model `credit` with version 1 and an evaluation dataset of 600 labelled rows."""
    response = push_archive(api_as(alice), credit_model[0], model="credit")
    assert response.status_code == 201, response.json()
    model = RegisteredModel.objects.get(name="credit")
    frame = credit_frame(600, seed=2)
    dataset = upload(alice, model, frame, "evaluation", label="y", protected=["group"])
    return model, dataset, frame


def ask(client, name: str, **body):
    return client.post(f"/api/v1/models/{name}/evaluations/", body, format="json")


def test_asking_twice_for_the_same_evaluation_makes_one_run(api_as, alice, bob, credit):
    _, dataset, _ = credit
    first = ask(api_as(alice), "credit", version=1, kind="performance", dataset=dataset.pk)
    again = ask(api_as(bob), "credit", version=1, kind="performance", dataset=dataset.pk)

    assert first.status_code == 201, first.json()
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    run = first.json()
    assert run["status"] == "pending" and run["progress"] == 0 and run["trigger"] == "manual"
    assert run["url"] == f"/evaluations/{run['id']}/" and run["metrics"] == {}
    assert EvaluationRun.objects.count() == 1


def test_a_sklearn_model_is_evaluated_in_the_sandbox_with_sklearns_numbers(
    api_as, alice, credit, credit_model
):
    model, dataset, frame = credit
    client = api_as(alice)
    run_id = ask(client, "credit", version=1, kind="performance", dataset=dataset.pk).json()["id"]

    run_evaluation(run_id)
    run_evaluation(run_id)  # a redelivered message: the run is claimed, nothing happens

    run = client.get(f"/api/v1/evaluations/{run_id}/").json()
    assert run["status"] == "done", run["error"]
    assert run["progress"] == 1 and run["duration_seconds"] > 0 and run["started_at"]
    estimator = credit_model[1]
    predicted = estimator.predict(frame[FEATURES])
    score = estimator.predict_proba(frame[FEATURES])[:, 1]
    overall = run["metrics"]["overall"]
    assert overall["accuracy"] == pytest.approx(sk.accuracy_score(frame["y"], predicted), abs=1e-9)
    assert overall["f1"] == pytest.approx(sk.f1_score(frame["y"], predicted), abs=1e-9)
    assert overall["roc_auc"] == pytest.approx(sk.roc_auc_score(frame["y"], score), abs=1e-9)
    assert overall["log_loss"] == pytest.approx(sk.log_loss(frame["y"], score), abs=1e-9)
    assert run["metrics"]["summary"]["roc_auc"] == overall["roc_auc"]
    assert EvaluationRun.objects.count() == 1
    said = [
        describe(e.verb, e.before, e.after)
        for e in AuditEvent.objects.filter(object_type="evaluation").order_by("id")
    ]
    assert said == ["evaluation requested", "evaluation finished"]


def test_a_fairness_run_reports_each_group(api_as, alice, credit, credit_model):
    _, dataset, frame = credit
    client = api_as(alice)
    run_id = ask(client, "credit", version=1, kind="fairness", dataset=dataset.pk).json()["id"]

    run_evaluation(run_id)

    run = client.get(f"/api/v1/evaluations/{run_id}/").json()
    assert run["status"] == "done", run["error"]
    (attribute,) = run["metrics"]["attributes"]
    predicted = credit_model[1].predict(frame[FEATURES])
    counts = {g["value"]: g["count"] for g in attribute["groups"]}
    assert counts == frame["group"].value_counts().to_dict()
    rates = {g["value"]: g["selection_rate"] for g in attribute["groups"]}
    for value, rate in rates.items():
        assert rate == pytest.approx(predicted[frame["group"] == value].mean(), abs=1e-9)


def test_a_batch_with_its_own_predictions_needs_no_model(api_as, alice, credit):
    model, _, frame = credit
    batch = frame.assign(predicted=(frame["income"] > 50).astype(int))
    dataset = upload(alice, model, batch, "batch", label="y", prediction="predicted")
    client = api_as(alice)
    run_id = ask(client, "credit", version=1, kind="performance", dataset=dataset.pk).json()["id"]

    run_evaluation(run_id)

    run = client.get(f"/api/v1/evaluations/{run_id}/").json()
    assert run["status"] == "done", run["error"]
    expected = sk.accuracy_score(batch["y"], batch["predicted"])
    assert run["metrics"]["overall"]["accuracy"] == pytest.approx(expected, abs=1e-9)
    assert run["metrics"]["overall"]["roc_auc"] is None  # no score column: not made up


def test_a_batchs_predictions_are_those_of_the_version_that_served_it(
    api_as, alice, bob, client, credit, credit_model
):
    """Recorded predictions belong to the version in production when the batch was observed:
    a run of that version uses them, any other version predicts for itself in the sandbox."""
    from tests.promotions import promote

    model, _, frame = credit
    api = api_as(alice)
    assert push_archive(api, credit_model[0], model="credit").status_code == 201
    first, second = ModelVersion.objects.filter(model=model).order_by("number")
    promote(first, "production", author=alice, approver=bob)
    served = frame.assign(predicted=(frame["income"] > 50).astype(int))
    by_first = upload(alice, model, served, "batch", label="y", prediction="predicted")
    promote(second, "production", author=alice, approver=bob)
    by_second = upload(alice, model, served, "batch", label="y", prediction="predicted")

    def accuracy_and_sources(version: int, dataset) -> tuple[float, dict]:
        answer = ask(api, "credit", version=version, kind="performance", dataset=dataset.pk)
        run_evaluation(answer.json()["id"])
        run = api.get(f"/api/v1/evaluations/{answer.json()['id']}/").json()
        assert run["status"] == "done", run["error"]
        return run["metrics"]["overall"]["accuracy"], run["metrics"]["predictions"]

    recorded = sk.accuracy_score(served["y"], served["predicted"])
    own = sk.accuracy_score(served["y"], credit_model[1].predict(served[FEATURES]))
    assert recorded != pytest.approx(own)
    assert accuracy_and_sources(1, by_first) == (
        pytest.approx(recorded, abs=1e-9),
        {"recorded": [by_first.pk], "made": []},
    )
    assert accuracy_and_sources(2, by_first) == (
        pytest.approx(own, abs=1e-9),
        {"recorded": [], "made": [by_first.pk]},
    )
    assert accuracy_and_sources(2, by_second)[1] == {"recorded": [by_second.pk], "made": []}
    assert accuracy_and_sources(1, by_second)[1] == {"recorded": [], "made": [by_second.pk]}

    client.force_login(alice)
    runs = EvaluationRun.objects.filter(dataset=by_first).order_by("version__number")
    pages = [client.get(f"/evaluations/{run.pk}/").content.decode() for run in runs]
    assert "recorded with the data: v1 served it" in pages[0]
    assert "made by v2 in the sandbox" in pages[1]


def test_a_model_that_raises_fails_its_run_with_the_error(api_as, alice, tmp_path: Path):
    folder = pyfunc_model_dir(tmp_path, 'raise ValueError("scaler not fitted")')
    assert push_archive(api_as(alice), folder, model="broken").status_code == 201
    model = RegisteredModel.objects.get(name="broken")
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = upload(alice, model, data, "evaluation", label="y")
    client = api_as(alice)
    run_id = ask(client, "broken", version=1, kind="performance", dataset=dataset.pk).json()["id"]

    run_evaluation(run_id)

    run = client.get(f"/api/v1/evaluations/{run_id}/").json()
    assert run["status"] == "failed" and run["metrics"] == {}
    assert run["error"].startswith("ValueError: scaler not fitted"), run["error"]
    assert "/sandbox/" not in run["error"]
    again = ask(client, "broken", version=1, kind="performance", dataset=dataset.pk)
    assert again.status_code == 201  # a failed run does not block asking again


def test_the_model_writes_only_to_its_outputs_and_within_the_file_size_limit(
    api_as, alice, tmp_path: Path, settings
):
    settings.SANDBOX_FILE_SIZE_MB = 5
    client = api_as(alice)
    for name, body in [
        ("greedy", 'import sys; open(sys.argv[3] + "/big", "wb").write(b"0" * 10_000_000)'),
        ("sneaky", 'import sys; open(sys.argv[2] + "/dataset.parquet", "ab").write(b"x")'),
    ]:
        folder = pyfunc_model_dir(tmp_path / name, body)
        assert push_archive(client, folder, model=name).status_code == 201
        model = RegisteredModel.objects.get(name=name)
        data = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
        dataset = upload(alice, model, data, "evaluation", label="y")
        run_id = ask(client, name, version=1, kind="performance", dataset=dataset.pk).json()["id"]
        run_evaluation(run_id)
        run = EvaluationRun.objects.get(pk=run_id)
        assert run.status == "failed"
        if name == "greedy":
            assert run.error.startswith("File size limit: the model wrote a file larger than 5 MB")
        else:
            assert run.error.startswith("PermissionError"), run.error


def test_what_cannot_be_evaluated_is_refused_with_a_reason(
    api_as, alice, people, credit, credit_model
):
    model, dataset, frame = credit
    client = api_as(alice)

    missing_version = ask(client, "credit", version=9, kind="performance", dataset=dataset.pk)
    assert missing_version.status_code == 404

    assert push_archive(client, credit_model[0], model="other").status_code == 201
    elsewhere = upload(
        alice, RegisteredModel.objects.get(name="other"), frame, "evaluation", label="y"
    )
    foreign = ask(client, "credit", version=1, kind="performance", dataset=elsewhere.pk)
    assert foreign.status_code == 400 and "dataset" in foreign.json()["error"]["detail"]

    no_reference = ask(client, "credit", version=1, kind="drift", dataset=dataset.pk)
    assert no_reference.status_code == 400
    assert "reference dataset" in no_reference.json()["error"]["message"]

    unlabelled = upload(alice, model, frame[FEATURES], "batch")
    no_labels = ask(client, "credit", version=1, kind="performance", dataset=unlabelled.pk)
    assert no_labels.status_code == 400 and "label" in no_labels.json()["error"]["message"]

    wrong_kind = ask(client, "credit", version=1, kind="speed", dataset=dataset.pk)
    assert wrong_kind.status_code == 400

    body = {"version": 1, "kind": "performance", "dataset": dataset.pk}
    assert ask(api_as(people["carol"]), "credit", **body).status_code == 403
    assert ask(api_as(alice, "read"), "credit", **body).status_code == 403
    assert ask(api_as(people["mallory"]), "credit", **body).status_code == 404
    assert EvaluationRun.objects.count() == 0


def test_a_drift_run_compares_with_the_latest_reference(api_as, alice, credit):
    model, _, _ = credit
    upload(alice, model, credit_frame(800, seed=3), "reference", label="y")
    drifted = upload(alice, model, credit_frame(800, seed=4, shift=15), "batch", label="y")
    client = api_as(alice)
    created = ask(client, "credit", version=1, kind="drift", dataset=drifted.pk)
    assert created.status_code == 201, created.json()

    run_evaluation(created.json()["id"])

    run = client.get(f"/api/v1/evaluations/{created.json()['id']}/").json()
    assert run["status"] == "done", run["error"]
    features = {f["name"]: f for f in run["metrics"]["features"]}
    assert features["income"]["drifted"] and not features["age"]["drifted"]
    assert run["metrics"]["features"][0]["name"] == "income"  # most drifted first


def test_a_models_runs_are_listed_and_filtered(api_as, alice, people, credit):
    _, dataset, _ = credit
    client = api_as(alice)
    ask(client, "credit", version=1, kind="performance", dataset=dataset.pk)
    ask(client, "credit", version=1, kind="fairness", dataset=dataset.pk)

    listed = client.get("/api/v1/models/credit/evaluations/?kind=fairness").json()
    assert [r["kind"] for r in listed["results"]] == ["fairness"]
    assert client.get("/api/v1/models/credit/evaluations/?status=nope").status_code == 400
    run_id = listed["results"][0]["id"]
    assert api_as(people["mallory"]).get(f"/api/v1/evaluations/{run_id}/").status_code == 404


def test_a_run_whose_worker_died_fails_and_is_queued_again(api_as, alice, credit, settings):
    settings.LOAD_CHECK_HEARTBEAT_SECONDS = 15
    _, dataset, _ = credit
    client = api_as(alice)
    run_id = ask(client, "credit", version=1, kind="performance", dataset=dataset.pk).json()["id"]
    EvaluationRun.objects.filter(pk=run_id).update(
        status="running",
        worker="worker-that-died",
        started_at=timezone.now() - timedelta(minutes=5),
        heartbeat_at=timezone.now() - timedelta(seconds=50),
    )

    assert requeue_stalled_evaluations() == 1

    lost = EvaluationRun.objects.get(pk=run_id)
    assert lost.status == "failed"
    assert "stopped answering" in lost.error and "worker-that-died" in lost.error
    retry = EvaluationRun.objects.exclude(pk=run_id).get()
    assert retry.status == "pending" and retry.inputs_key == lost.inputs_key
    run_evaluation(retry.pk)
    assert EvaluationRun.objects.get(pk=retry.pk).status == "done"


def test_a_version_that_loads_is_evaluated_beside_production(
    api_as, alice, bob, credit, credit_model, django_capture_on_commit_callbacks
):
    from registry.tasks import run_load_check
    from tests.promotions import promote

    model, dataset, _ = credit
    first = ModelVersion.objects.get(model=model, number=1)
    promote(first, "production", author=alice, approver=bob)
    assert push_archive(api_as(alice), credit_model[0], model="credit").status_code == 201
    second = ModelVersion.objects.get(model=model, number=2)

    with django_capture_on_commit_callbacks(execute=True):
        run_load_check(second.latest_load_check_id)

    runs = EvaluationRun.objects.filter(trigger="upload")
    new = {r.kind: r for r in runs.filter(version=second)}
    assert set(new) == {"performance", "fairness"}  # no reference dataset: no drift
    for kind, run in new.items():
        assert run.dataset == dataset
        assert run.baseline is not None and run.baseline.version == first
        assert run.baseline.kind == kind


def test_listing_runs_takes_the_same_queries_however_many_there_are(api_as, alice, credit):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    model, dataset, frame = credit
    client = api_as(alice)
    ask(client, "credit", version=1, kind="performance", dataset=dataset.pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/models/credit/evaluations/").status_code == 200
        return len(captured)

    one = queries()
    ask(client, "credit", version=1, kind="fairness", dataset=dataset.pk)
    other = upload(alice, model, frame, "evaluation", label="y")
    ask(client, "credit", version=1, kind="performance", dataset=other.pk)
    assert queries() == one

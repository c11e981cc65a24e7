"""/metrics, read as Prometheus reads it (prometheus_client's own parser): the latest values of
live versions, drift share, fairness ratio, open alerts, evaluation durations and failures;
and /readyz, which also asks the broker and artifact storage."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitoring import alerts
from monitoring.datasets import store_dataset
from monitoring.models import RunStatus
from tests.monitoring_watch import a_monitor, batch, finished_run, model_in_production

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(**given) -> tuple:
    return tuple(sorted(given.items()))


@pytest.fixture
def watched(people, teams):
    alice, bob = people["alice"], people["bob"]
    model = model_in_production(alice, bob, teams["fraud"])
    monitor = a_monitor(bob, model)
    data = batch(alice, model)
    return model, monitor, data


def test_it_reports_the_latest_values_of_live_versions(client, watched):
    model, monitor, data = watched
    finished_run(monitor, data, {"roc_auc": 0.91, "accuracy": 0.8}, duration=2.0)
    alerts.run_finished(
        finished_run(monitor, data, {"roc_auc": 0.75, "log_loss": None}, duration=4.0)
    )
    finished_run(monitor, data, {"share_drifted": 0.25, "max_psi": 0.4}, kind="drift", duration=1.0)
    finished_run(monitor, data, {"min_disparate_impact_ratio": 0.7}, kind="fairness")
    finished_run(monitor, data, {}, status=RunStatus.FAILED, duration=0.5)

    samples = scrape(client)
    live = {"model": "fraud-detector", "version": "1", "stage": "production", "data": "batch"}
    metric = "vetted_evaluation_metric"
    assert samples[(metric, labels(**live, kind="performance", metric="roc_auc"))] == 0.75
    assert (metric, labels(**live, kind="performance", metric="accuracy")) not in samples
    assert (metric, labels(**live, kind="performance", metric="log_loss")) not in samples
    assert samples[(metric, labels(**live, kind="drift", metric="max_psi"))] == 0.4
    assert samples[("vetted_drift_share_drifted_ratio", labels(**live))] == 0.25
    assert samples[("vetted_fairness_disparate_impact_ratio", labels(**live))] == 0.7
    assert samples[("vetted_alerts_open", labels(model="fraud-detector", level="critical"))] == 1
    perf = {"model": "fraud-detector", "kind": "performance"}
    assert samples[("vetted_evaluations_total", labels(**perf, status="done"))] == 2
    assert samples[("vetted_evaluations_total", labels(**perf, status="failed"))] == 1
    assert samples[("vetted_evaluation_duration_seconds_count", labels(**perf))] == 3
    assert samples[("vetted_evaluation_duration_seconds_sum", labels(**perf))] == 6.5


def test_runs_on_evaluation_data_are_their_own_series_beside_the_batches(client, watched, alice):
    """A new version's upload evaluates production on the evaluation data too: that value
    is a series of its own, and the batches' value stays until a newer batch run."""
    from tests.monitoring_datasets import csv_file, transactions

    model, monitor, data = watched
    finished_run(monitor, data, {"roc_auc": 0.75})
    evaluation = store_dataset(
        actor=alice,
        model=model,
        file=csv_file(transactions(100)),
        filename="holdout.csv",
        kind="evaluation",
        label="is_fraud",
    )
    finished_run(monitor, evaluation, {"roc_auc": 0.93})

    samples = scrape(client)
    live = {"model": "fraud-detector", "version": "1", "stage": "production"}
    performance = {"kind": "performance", "metric": "roc_auc"}
    metric = "vetted_evaluation_metric"
    assert samples[(metric, labels(**live, **performance, data="batch"))] == 0.75
    assert samples[(metric, labels(**live, **performance, data="evaluation"))] == 0.93


def test_the_newest_data_counts_not_the_newest_run(client, watched, alice):
    model, monitor, data = watched
    finished_run(monitor, data, {"roc_auc": 0.8})
    older = batch(alice, model, days_ago=20)
    finished_run(monitor, older, {"roc_auc": 0.6})  # asked later, on last month's batch

    samples = scrape(client)
    live = {"model": "fraud-detector", "version": "1", "stage": "production", "data": "batch"}
    assert (
        samples[("vetted_evaluation_metric", labels(**live, kind="performance", metric="roc_auc"))]
        == 0.8
    )


def test_versions_out_of_staging_and_production_are_left_out(client, watched):
    model, monitor, data = watched
    model.versions.update(stage="archived")
    finished_run(monitor, data, {"roc_auc": 0.9})
    assert not [k for k in scrape(client) if k[0] == "vetted_evaluation_metric"]


def test_with_a_token_set_it_answers_only_the_bearer(client, settings, db):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    scrape(client, Authorization="Bearer s3cret")


def test_readyz_reports_the_broker_and_storage(client, db):
    body = client.get("/readyz").json()
    assert (body["broker"], body["storage"]) == ("ok", "ok")


def test_readyz_is_503_when_the_broker_is_out_of_reach(client, db, monkeypatch):
    from vetted.celery import app

    nowhere = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    monkeypatch.setenv("CELERY_BROKER_URL", nowhere)  # Celery reads it before its settings
    monkeypatch.setitem(app.conf, "broker_url", nowhere)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("unavailable")


def test_readyz_is_503_when_storage_is_out_of_reach(client, db, monkeypatch):
    from registry.services import artifact_storage

    def refuse(name):
        raise PermissionError("Access Denied")

    monkeypatch.setattr(artifact_storage(), "exists", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["storage"] == "unavailable: PermissionError: Access Denied"

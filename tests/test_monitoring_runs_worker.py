"""Evaluations with a real Celery worker on Redis, asked for the way a CI job does: `vetted
evaluate … --wait` against a live server, on the monitoring queue."""

import json
import time

from monitoring.models import EvaluationRun
from registry.models import RegisteredModel
from tests.monitoring_datasets import credit_frame, credit_model  # noqa: F401 - a fixture
from tests.test_cli import run_vetted
from tests.test_monitoring_runs import upload
from tests.workers import push, start_worker, wait_for_checks  # noqa: F401 - a fixture


def test_vetted_evaluate_waits_for_the_workers_result(
    start_worker,  # noqa: F811
    live_server,
    api_as,
    alice,
    token_for,
    credit_model,  # noqa: F811
):
    start_worker()
    push(api_as(alice), "credit", credit_model[0])
    wait_for_checks(["credit"])  # the load check passes: no evaluation dataset yet, no run
    model = RegisteredModel.objects.get(name="credit")
    dataset = upload(alice, model, credit_frame(400, seed=5), "evaluation", label="y")
    env = {"VETTED_URL": live_server.url, "VETTED_TOKEN": token_for(alice)}
    args = ["evaluate", "credit", "1", "--kind", "performance", "--data", str(dataset.pk)]

    done = run_vetted(*args, "--wait", env=env)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "done" and result["metrics"]["summary"]["roc_auc"] > 0.7
    again = run_vetted(*args, env=env)
    assert again.returncode == 0 and again.stdout.strip() == str(result["id"])
    assert EvaluationRun.objects.count() == 1


def test_vetted_evaluate_exits_1_when_the_run_fails(
    start_worker,  # noqa: F811
    live_server,
    api_as,
    alice,
    token_for,
    credit_model,  # noqa: F811
):
    start_worker()
    push(api_as(alice), "credit", credit_model[0])
    model = RegisteredModel.objects.get(name="credit")
    frame = credit_frame(50, seed=6).assign(income=float("nan"))  # LogisticRegression refuses NaN
    dataset = upload(alice, model, frame, "evaluation", label="y")
    env = {"VETTED_URL": live_server.url, "VETTED_TOKEN": token_for(alice)}

    done = run_vetted(
        "evaluate",
        "credit",
        "1",
        "--kind",
        "performance",
        "--data",
        str(dataset.pk),
        "--wait",
        env=env,
    )

    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "failed"
    assert "NaN" in done.stderr


def test_a_new_version_is_evaluated_by_the_worker_and_its_check_passes(
    start_worker,  # noqa: F811
    api_as,
    alice,
    credit_model,  # noqa: F811
):
    start_worker()
    client = api_as(alice)
    push(client, "credit", credit_model[0])
    wait_for_checks(["credit"])
    model = RegisteredModel.objects.get(name="credit")
    upload(alice, model, credit_frame(400, seed=7), "evaluation", label="y", protected=["group"])
    checks = [{"kind": "evaluation_metric", "metric": "roc_auc", "op": ">=", "value": 0.7}]
    policy = {"to_stage": "staging", "required_approvals": 1, "checks": checks}
    assert client.put("/api/v1/teams/fraud/policies/", policy, format="json").status_code == 200

    push(client, "credit", credit_model[0])
    opened = client.post(
        "/api/v1/models/credit/requests/", {"version": 2, "to_stage": "staging"}, format="json"
    )

    number = opened.json()["number"]
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        (check,) = client.get(f"/api/v1/requests/{number}/").json()["checks"]
        if check["state"] != "pending":
            break
        time.sleep(0.5)
    assert check["state"] == "pass", check
    runs = EvaluationRun.objects.filter(version__number=2, trigger="upload")
    assert sorted(runs.values_list("kind", flat=True)) == ["fairness", "performance"]
    assert check["url"] == f"/evaluations/{runs.get(kind='performance').pk}/"

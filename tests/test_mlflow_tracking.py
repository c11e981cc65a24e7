"""The tracking calls MLflow's client makes while logging a model: experiments, runs, metrics,
logged models, through /mlflow/api/ as the client sends them, and the lineage a run hands on.
"""

import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from mlflow_api.lineage import run_datasets, run_lineage
from mlflow_api.models import Experiment, LoggedModel, MetricPoint, Run

API = "/mlflow/api/2.0/mlflow/"
COMMIT = "3f2a9c1d5e7b8a9c0d1e2f3a4b5c6d7e8f9a0b1c"


class Mlflow:
    """An MLflow client's HTTP calls, as one user with one token."""

    def __init__(self, plain_token: str):
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {plain_token}")

    def get(self, path: str, **params):
        return self.client.get(API + path, params)

    def send(self, method: str, path: str, body: dict | None = None):
        return getattr(self.client, method)(
            API + path, json.dumps(body or {}), content_type="application/json"
        )

    def post(self, path: str, body: dict | None = None):
        return self.send("post", path, body)

    def ok(self, response) -> dict:
        assert response.status_code == 200, response.content
        return response.json()

    def new_run(self, experiment_id: str = "0", **body) -> str:
        run = self.ok(self.post("runs/create", {"experiment_id": experiment_id, **body}))["run"]
        return run["info"]["run_id"]


def error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code
    return response.json()["message"]


@pytest.fixture
def mlflow_as(token_for):
    return lambda user, scopes="read,write": Mlflow(token_for(user, scopes))


@pytest.fixture
def alice_mlflow(mlflow_as, alice):
    return mlflow_as(alice)


def test_a_run_logs_params_metrics_and_tags_and_reads_them_back(alice_mlflow, alice):
    mlflow = alice_mlflow
    experiment_id = mlflow.ok(mlflow.post("experiments/create", {"name": "fraud-training"}))[
        "experiment_id"
    ]
    found = mlflow.ok(mlflow.get("experiments/get-by-name", experiment_name="fraud-training"))
    assert found["experiment"]["experiment_id"] == experiment_id
    assert found["experiment"]["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"

    run_id = mlflow.new_run(
        experiment_id,
        run_name="nightly",
        start_time=1700000000000,
        user_id="someone-else",
        tags=[{"key": "mlflow.user", "value": "someone-else"}],
    )
    mlflow.ok(
        mlflow.post(
            "runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": "max_depth", "value": "4"}],
                "metrics": [
                    {"key": "auc", "value": 0.81, "timestamp": 1, "step": 0},
                    {"key": "auc", "value": 0.86, "timestamp": 2, "step": 1},
                ],
                "tags": [{"key": "mlflow.source.git.commit", "value": COMMIT}],
            },
        )
    )
    mlflow.ok(
        mlflow.post(
            "runs/log-metric",
            {"run_id": run_id, "run_uuid": run_id, "key": "loss", "value": "NaN", "timestamp": 3},
        )
    )
    mlflow.ok(mlflow.post("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}))
    mlflow.ok(mlflow.post("runs/set-tag", {"run_id": run_id, "key": "team", "value": "fraud"}))
    info = mlflow.ok(
        mlflow.post(
            "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 1700000005000}
        )
    )["run_info"]
    assert info["status"] == "FINISHED" and info["end_time"] == 1700000005000

    run = mlflow.ok(mlflow.get("runs/get", run_id=run_id))["run"]
    assert run["info"]["run_name"] == "nightly"
    assert run["info"]["user_id"] == "alice"  # the token's user, not what the client said
    assert run["info"]["start_time"] == 1700000000000
    assert run["info"]["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"max_depth": "4", "lr": "0.1"}
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert metrics == {"auc": 0.86, "loss": "NaN"}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.user"] == "someone-else" and tags["mlflow.runName"] == "nightly"
    assert tags["team"] == "fraud" and tags["mlflow.source.git.commit"] == COMMIT
    assert Run.objects.get(pk=run_id).user == alice

    history = mlflow.ok(mlflow.get("metrics/get-history", run_id=run_id, metric_key="auc"))
    assert [(m["value"], m["step"]) for m in history["metrics"]] == [(0.81, 0), (0.86, 1)]
    first = mlflow.ok(
        mlflow.get("metrics/get-history", run_id=run_id, metric_key="auc", max_results=1)
    )
    assert [m["value"] for m in first["metrics"]] == [0.81]
    second = mlflow.ok(
        mlflow.get(
            "metrics/get-history",
            run_id=run_id,
            metric_key="auc",
            max_results=1,
            page_token=first["next_page_token"],
        )
    )
    assert [m["value"] for m in second["metrics"]] == [0.86]
    assert "next_page_token" not in second


def test_a_run_without_an_experiment_goes_to_default_in_the_callers_team(alice_mlflow, teams):
    run_id = alice_mlflow.new_run("0")
    run = Run.objects.get(pk=run_id)
    assert run.experiment_id == 0 and run.team == teams["fraud"]
    assert run.name  # MLflow always names a run
    default = alice_mlflow.ok(alice_mlflow.get("experiments/get", experiment_id="0"))
    assert default["experiment"]["name"] == "Default"


def test_the_default_experiment_comes_back_after_a_database_flush(alice_mlflow):
    Experiment.objects.filter(pk=0).delete()  # what a live-server test's flush does
    assert Run.objects.get(pk=alice_mlflow.new_run("0")).experiment.name == "Default"
    found = alice_mlflow.ok(alice_mlflow.get("experiments/get-by-name", experiment_name="Default"))
    assert found["experiment"]["experiment_id"] == "0"


def test_a_param_keeps_its_first_value(alice_mlflow):
    run_id = alice_mlflow.new_run()
    alice_mlflow.ok(
        alice_mlflow.post("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    )
    alice_mlflow.ok(
        alice_mlflow.post("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    )
    message = error(
        alice_mlflow.post("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "Changing param values is not allowed" in message
    refused = alice_mlflow.post(
        "runs/log-batch",
        {
            "run_id": run_id,
            "params": [{"key": "lr", "value": "0.3"}],
            "metrics": [{"key": "auc", "value": 0.9, "timestamp": 1}],
            "tags": [{"key": "t", "value": "v"}],
        },
    )
    error(refused, 400, "INVALID_PARAMETER_VALUE")
    run = Run.objects.get(pk=run_id)
    assert run.params == {"lr": "0.1"} and "t" not in run.tags  # nothing of the batch stored
    assert not MetricPoint.objects.filter(run=run).exists()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"metrics": [{"key": "m", "value": 1.0, "timestamp": 1}] * 1001}, "at most 1000 metrics"),
        ({"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}, "at most 100 params"),
        ({"tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}, "at most 100 tags"),
        ({"params": [{"key": "p", "value": "x" * 6001}]}, "6000"),
        ({"params": [{"key": "p", "value": "1"}, {"key": "p", "value": "1"}]}, "Duplicate"),
        ({"metrics": [{"key": "m", "value": "high", "timestamp": 1}]}, "metrics[0].value"),
        ({"metrics": [{"key": "m", "value": 1.0}]}, "metrics[0].timestamp"),
        ({"metrics": [{"key": "m", "value": 1.0, "timestamp": "soon"}]}, "metrics[0].timestamp"),
        ({"metrics": [{"key": "../m", "value": 1.0, "timestamp": 1}]}, "metrics[0].key"),
        ({"params": [{"key": "a;b", "value": "1"}]}, "params[0].key"),
        ({"tags": [{"value": "1"}]}, "tags[0].key"),
        ({"metrics": {"key": "m"}}, "metrics"),
        ({"metrics": [{"key": "m", "value": 1.0, "timestamp": 10**20}]}, "64-bit"),
        ({"tags": [{"key": "t", "value": "a\x00b"}]}, "NUL"),
    ],
)
def test_log_batch_refuses_bad_input_in_mlflows_shape(alice_mlflow, body, says):
    run_id = alice_mlflow.new_run()
    message = error(
        alice_mlflow.post("runs/log-batch", {"run_id": run_id, **body}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert says in message
    run = Run.objects.get(pk=run_id)
    assert run.params == {} and not MetricPoint.objects.filter(run=run).exists()


def test_metric_values_may_be_infinite_and_negative_steps_are_kept(alice_mlflow):
    run_id = alice_mlflow.new_run()
    alice_mlflow.ok(
        alice_mlflow.post(
            "runs/log-metric",
            {"run_id": run_id, "key": "gain", "value": "-Infinity", "timestamp": 5, "step": -1},
        )
    )
    point = MetricPoint.objects.get(run_id=run_id)
    assert point.value == -math.inf and point.step == -1
    run = alice_mlflow.ok(alice_mlflow.get("runs/get", run_id=run_id))["run"]
    assert run["data"]["metrics"][0]["value"] == "-Infinity"


def test_unknown_and_other_teams_runs_do_not_exist(alice_mlflow, mlflow_as, people):
    error(alice_mlflow.get("runs/get", run_id="f" * 32), 404, "RESOURCE_DOES_NOT_EXIST")
    run_id = alice_mlflow.new_run()
    mallory = mlflow_as(people["mallory"])
    error(mallory.get("runs/get", run_id=run_id), 404, "RESOURCE_DOES_NOT_EXIST")
    for path, body in [
        ("runs/log-parameter", {"key": "k", "value": "v"}),
        ("runs/set-tag", {"key": "k", "value": "v"}),
        ("runs/log-metric", {"key": "k", "value": 1, "timestamp": 1}),
        ("runs/update", {"status": "KILLED"}),
        ("runs/delete", {}),
    ]:
        error(mallory.post(path, {"run_id": run_id, **body}), 404, "RESOURCE_DOES_NOT_EXIST")
    found = mallory.ok(mallory.post("runs/search", {"experiment_ids": ["0"]}))
    assert found.get("runs", []) == []
    run = Run.objects.get(pk=run_id)
    assert run.params == {} and run.status == "RUNNING" and run.lifecycle_stage == "active"


def test_a_read_token_or_a_viewer_cannot_log(mlflow_as, alice, people):
    run_id = mlflow_as(alice).new_run()
    reader = mlflow_as(alice, "read")
    error(reader.post("runs/create", {"experiment_id": "0"}), 403, "PERMISSION_DENIED")
    error(
        reader.post("runs/log-parameter", {"run_id": run_id, "key": "k", "value": "v"}),
        403,
        "PERMISSION_DENIED",
    )
    reader.ok(reader.get("runs/get", run_id=run_id))
    viewer = mlflow_as(people["victor"])
    viewer.ok(viewer.get("runs/get", run_id=run_id))  # the team's viewer sees it
    error(
        viewer.post("runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        403,
        "PERMISSION_DENIED",
    )
    error(viewer.post("runs/create", {"experiment_id": "0"}), 403, "PERMISSION_DENIED")
    assert Run.objects.get(pk=run_id).tags.get("k") is None


def test_a_deleted_run_is_read_only_and_left_out_of_searches(alice_mlflow):
    run_id = alice_mlflow.new_run()
    alice_mlflow.ok(alice_mlflow.post("runs/delete", {"run_id": run_id}))
    assert (
        alice_mlflow.ok(alice_mlflow.get("runs/get", run_id=run_id))["run"]["info"][
            "lifecycle_stage"
        ]
        == "deleted"
    )
    message = error(
        alice_mlflow.post("runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "active" in message
    assert (
        alice_mlflow.ok(alice_mlflow.post("runs/search", {"experiment_ids": ["0"]})).get("runs", [])
        == []
    )
    deleted = alice_mlflow.ok(
        alice_mlflow.post("runs/search", {"experiment_ids": ["0"], "run_view_type": "ALL"})
    )
    assert [r["info"]["run_id"] for r in deleted["runs"]] == [run_id]


def test_experiment_names_are_per_team(alice_mlflow, mlflow_as, people):
    alice_mlflow.ok(alice_mlflow.post("experiments/create", {"name": "churn"}))
    message = error(
        alice_mlflow.post("experiments/create", {"name": "churn"}), 400, "RESOURCE_ALREADY_EXISTS"
    )
    assert message == "Experiment(name=churn) already exists."
    mallory = mlflow_as(people["mallory"])
    error(
        mallory.get("experiments/get-by-name", experiment_name="churn"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    theirs = mallory.ok(mallory.post("experiments/create", {"name": "churn"}))["experiment_id"]
    found = mallory.ok(mallory.get("experiments/get-by-name", experiment_name="churn"))
    assert found["experiment"]["experiment_id"] == theirs
    ours = alice_mlflow.ok(alice_mlflow.get("experiments/get-by-name", experiment_name="churn"))
    assert ours["experiment"]["experiment_id"] != theirs
    error(alice_mlflow.get("experiments/get", experiment_id=theirs), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        alice_mlflow.post("runs/create", {"experiment_id": theirs}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(alice_mlflow.get("experiments/get", experiment_id="x1"), 400, "INVALID_PARAMETER_VALUE")
    error(
        alice_mlflow.post("experiments/create", {"name": "s3", "artifact_location": "s3://b/x"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_experiments_are_searched_page_by_page(alice_mlflow):
    for index in range(3):
        alice_mlflow.ok(alice_mlflow.post("experiments/create", {"name": f"exp-{index}"}))
    names, token = [], None
    while True:
        body = {"max_results": 2, **({"page_token": token} if token else {})}
        page = alice_mlflow.ok(alice_mlflow.post("experiments/search", body))
        names += [e["name"] for e in page["experiments"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(names) == ["Default", "exp-0", "exp-1", "exp-2"]
    only = alice_mlflow.ok(alice_mlflow.post("experiments/search", {"filter": "name LIKE 'exp-%'"}))
    assert len(only["experiments"]) == 3
    ordered = alice_mlflow.ok(
        alice_mlflow.post("experiments/search", {"order_by": ["name DESC"], "max_results": 2})
    )
    assert [e["name"] for e in ordered["experiments"]] == ["exp-2", "exp-1"]
    error(
        alice_mlflow.post("experiments/search", {"order_by": ["owner"]}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    for bad in ("params.x = '1'", "experiment_id = 'abc'", "name = 'a' OR name = 'b'", "name >"):
        error(
            alice_mlflow.post("experiments/search", {"filter": bad}), 400, "INVALID_PARAMETER_VALUE"
        )


def test_runs_are_searched_by_tag_param_and_name(alice_mlflow):
    first = alice_mlflow.new_run(run_name="baseline", tags=[{"key": "kind", "value": "nightly"}])
    alice_mlflow.new_run(run_name="tuned")
    alice_mlflow.ok(
        alice_mlflow.post("runs/log-parameter", {"run_id": first, "key": "depth", "value": "4"})
    )

    def ids(filter_string: str) -> list[str]:
        found = alice_mlflow.ok(
            alice_mlflow.post("runs/search", {"experiment_ids": ["0"], "filter": filter_string})
        )
        return [run["info"]["run_id"] for run in found.get("runs", [])]

    assert ids("tags.kind = 'nightly'") == [first]
    assert ids("params.depth = '4' AND attributes.run_name LIKE 'base%'") == [first]
    assert ids("tags.`kind` != 'nightly'") == []  # a tag filter needs the tag, as in MLflow
    assert len(ids("run_name IN ('baseline', 'tuned')")) == 2
    by_name = alice_mlflow.ok(
        alice_mlflow.post(
            "runs/search", {"experiment_ids": ["0"], "order_by": ["attributes.run_name DESC"]}
        )
    )
    assert [run["info"]["run_name"] for run in by_name["runs"]] == ["tuned", "baseline"]
    error(
        alice_mlflow.post("runs/search", {"experiment_ids": ["0"], "filter": "metrics.auc > 0.5"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_a_logged_model_is_created_finalized_tagged_and_searched(alice_mlflow, mlflow_as, people):
    mlflow = alice_mlflow
    run_id = mlflow.new_run()
    model = mlflow.ok(
        mlflow.post(
            "logged-models",
            {
                "experiment_id": "0",
                "name": "model",
                "model_type": "sklearn",
                "source_run_id": run_id,
                "params": [{"key": "max_depth", "value": "4"}],
                "tags": [{"key": "mlflow.source.name", "value": "train.py"}],
            },
        )
    )["model"]
    model_id = model["info"]["model_id"]
    assert model_id.startswith("m-")
    assert model["info"]["status"] == "LOGGED_MODEL_PENDING"
    assert model["info"]["artifact_uri"] == f"mlflow-artifacts:/0/models/{model_id}/artifacts"
    assert model["info"]["source_run_id"] == run_id
    assert model["data"]["params"] == [{"key": "max_depth", "value": "4"}]

    mlflow.ok(
        mlflow.post(
            f"logged-models/{model_id}/params",
            {"model_id": model_id, "params": [{"key": "n_estimators", "value": "50"}]},
        )
    )
    mlflow.ok(
        mlflow.send(
            "patch", f"logged-models/{model_id}/tags", {"tags": [{"key": "a", "value": "1"}]}
        )
    )
    mlflow.ok(mlflow.send("delete", f"logged-models/{model_id}/tags/mlflow.source.name"))
    mlflow.ok(
        mlflow.post(
            "runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}
        )
    )
    mlflow.ok(
        mlflow.post(
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "auc", "value": 0.9, "timestamp": 1, "model_id": model_id}],
            },
        )
    )
    ready = mlflow.ok(
        mlflow.send(
            "patch",
            f"logged-models/{model_id}",
            {"model_id": model_id, "status": "LOGGED_MODEL_READY"},
        )
    )["model"]
    assert ready["info"]["status"] == "LOGGED_MODEL_READY"
    got = mlflow.ok(mlflow.get(f"logged-models/{model_id}"))["model"]
    assert {t["key"]: t["value"] for t in got["info"]["tags"]} == {"a": "1"}
    assert {p["key"] for p in got["data"]["params"]} == {"max_depth", "n_estimators"}
    assert [(m["key"], m["value"], m["run_id"]) for m in got["data"]["metrics"]] == [
        ("auc", 0.9, run_id)
    ]
    run = mlflow.ok(mlflow.get("runs/get", run_id=run_id))["run"]
    assert run["outputs"]["model_outputs"] == [{"model_id": model_id, "step": 0}]

    # What MLflow's client asks to find the model a run logged under a name.
    found = mlflow.ok(
        mlflow.post("logged-models/search", {"experiment_ids": ["0"], "filter": "name = 'model'"})
    )
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    none = mlflow.ok(
        mlflow.post("logged-models/search", {"experiment_ids": ["0"], "filter": "name = 'other'"})
    )
    assert none.get("models", []) == []

    mallory = mlflow_as(people["mallory"])
    error(mallory.get(f"logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        mallory.send(
            "patch", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_UPLOAD_FAILED"}
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert (
        mallory.ok(mallory.post("logged-models/search", {"experiment_ids": ["0"]})).get(
            "models", []
        )
        == []
    )

    mlflow.ok(mlflow.send("delete", f"logged-models/{model_id}"))
    error(mlflow.get(f"logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert mlflow.ok(mlflow.get(f"logged-models/{model_id}", allow_deleted="true"))
    assert LoggedModel.objects.get(pk=model_id).lifecycle_stage == "deleted"


def test_a_logged_model_refuses_bad_input(alice_mlflow):
    error(alice_mlflow.post("logged-models", {}), 400, "INVALID_PARAMETER_VALUE")
    error(
        alice_mlflow.post("logged-models", {"experiment_id": "0", "source_run_id": "0" * 32}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    model_id = alice_mlflow.ok(alice_mlflow.post("logged-models", {"experiment_id": "0"}))["model"][
        "info"
    ]["model_id"]
    error(
        alice_mlflow.send("patch", f"logged-models/{model_id}", {"status": "DONE"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(alice_mlflow.post("logged-models/search", {}), 400, "INVALID_PARAMETER_VALUE")
    error(alice_mlflow.get(f"logged-models/{model_id}/nothing"), 404, "ENDPOINT_NOT_FOUND")
    assert LoggedModel.objects.get(pk=model_id).status == "LOGGED_MODEL_PENDING"


def test_mlflow2_log_model_records_the_model_in_the_runs_history(alice_mlflow):
    run_id = alice_mlflow.new_run()
    model = {
        "artifact_path": "model",
        "flavors": {"sklearn": {}},
        "utc_time_created": "2026-01-01 00:00:00",
        "run_id": run_id,
    }
    for _ in range(2):
        alice_mlflow.ok(
            alice_mlflow.post("runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})
        )
    history = json.loads(Run.objects.get(pk=run_id).tags["mlflow.log-model.history"])
    assert history == [model, model]
    error(
        alice_mlflow.post("runs/log-model", {"run_id": run_id, "model_json": "{"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(
        alice_mlflow.post("runs/log-model", {"run_id": run_id, "model_json": "{}"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_a_runs_lineage_is_what_a_version_registered_from_it_keeps(alice_mlflow):
    mlflow = alice_mlflow
    run_id = mlflow.new_run(
        tags=[
            {"key": "mlflow.source.git.commit", "value": COMMIT},
            {"key": "mlflow.source.git.branch", "value": "main"},
            {"key": "mlflow.source.git.repoURL", "value": "https://git.example/fraud.git"},
            {"key": "mlflow.note.content", "value": "Gradient boosting, 2026 data."},
        ]
    )
    mlflow.ok(
        mlflow.post(
            "runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": "max_depth", "value": "4"}],
                "metrics": [
                    {"key": "auc", "value": 0.8, "timestamp": 5, "step": 0},
                    {"key": "auc", "value": 0.9, "timestamp": 1, "step": 3},
                    {"key": "loss", "value": "NaN", "timestamp": 1},
                ],
            },
        )
    )
    dataset = {
        "name": "transactions",
        "digest": "a1b2c3",
        "source_type": "http",
        "source": json.dumps({"url": "https://data.example/tx.csv"}),
        "schema": "{}",
    }
    inputs = {
        "run_id": run_id,
        "datasets": [
            {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}
        ],
    }
    mlflow.ok(mlflow.post("runs/log-inputs", inputs))
    mlflow.ok(mlflow.post("runs/log-inputs", inputs))  # logged twice, kept once

    run = Run.objects.get(pk=run_id)
    lineage = run_lineage(run)
    assert lineage.git_commit == COMMIT and lineage.git_branch == "main"
    assert lineage.git_repo == "https://git.example/fraud.git"
    assert lineage.description == "Gradient boosting, 2026 data."
    assert lineage.params == {"max_depth": "4"}
    assert lineage.metrics == {"auc": 0.9}  # the highest step wins; NaN stays on the run
    assert lineage.training_data_uri == "https://data.example/tx.csv"
    assert run_datasets(run) == [
        {
            "name": "transactions",
            "digest": "a1b2c3",
            "source_type": "http",
            "source": dataset["source"],
            "context": "training",
        }
    ]
    got = mlflow.ok(mlflow.get("runs/get", run_id=run_id))["run"]
    assert [i["dataset"]["name"] for i in got["inputs"]["dataset_inputs"]] == ["transactions"]

    mlflow.ok(
        mlflow.post(
            "runs/set-tag", {"run_id": run_id, "key": "mlflow.source.git.commit", "value": "HEAD"}
        )
    )
    assert run_lineage(Run.objects.get(pk=run_id)).git_commit == ""  # not a commit id

    error(
        mlflow.post(
            "runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": {"name": "x"}}]}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_run_get_and_search_take_a_constant_number_of_queries(
    alice_mlflow, django_assert_max_num_queries
):
    run_ids = [alice_mlflow.new_run() for _ in range(3)]
    for run_id in run_ids:
        alice_mlflow.ok(
            alice_mlflow.post(
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [{"key": f"m{i}", "value": i, "timestamp": 1} for i in range(3)],
                },
            )
        )
    with django_assert_max_num_queries(8):
        found = alice_mlflow.ok(alice_mlflow.post("runs/search", {"experiment_ids": ["0"]}))
    assert len(found["runs"]) == 3 and all(len(r["data"]["metrics"]) == 3 for r in found["runs"])


@pytest.mark.django_db(transaction=True)
def test_mlflows_own_client_logs_runs_and_logged_models(live_server, alice, token_for, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.entities import (
        Dataset,
        DatasetInput,
        InputTag,
        LoggedModelOutput,
        LoggedModelStatus,
        Metric,
        Param,
        RunTag,
    )
    from mlflow.exceptions import MlflowException

    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(alice))
    client = MlflowClient(f"{live_server.url}/mlflow")

    experiment_id = client.create_experiment("fraud-training")
    assert client.get_experiment_by_name("fraud-training").experiment_id == experiment_id
    assert client.get_experiment_by_name("no-such-experiment") is None
    with pytest.raises(MlflowException) as exists:
        client.create_experiment("fraud-training")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"

    run = client.create_run(
        experiment_id, run_name="nightly", tags={"mlflow.source.git.commit": COMMIT}
    )
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("auc", 0.8, 1, 0), Metric("auc", 0.9, 2, 1)],
        params=[Param("max_depth", "4")],
        tags=[RunTag("kind", "nightly")],
    )
    client.log_metric(run_id, "loss", float("nan"))
    client.log_param(run_id, "lr", 0.1)
    client.log_inputs(
        run_id,
        datasets=[
            DatasetInput(
                Dataset("transactions", "a1b2c3", "http", '{"url": "https://data.example/tx"}'),
                tags=[InputTag("mlflow.data.context", "training")],
            )
        ],
    )
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "lr", 0.2)
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"

    model = client.create_logged_model(
        experiment_id, name="model", source_run_id=run_id, params={"max_depth": "4"}
    )
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    client.set_logged_model_tags(model.model_id, {"stage": "candidate"})
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY and ready.tags == {"stage": "candidate"}
    found = client.search_logged_models([experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [model.model_id]
    assert found[0].source_run_id == run_id and found[0].params == {"max_depth": "4"}
    client.set_terminated(run_id)

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.user_id == "alice"
    assert got.data.params == {"max_depth": "4", "lr": "0.1"}
    assert got.data.metrics["auc"] == 0.9 and math.isnan(got.data.metrics["loss"])
    assert got.data.tags["kind"] == "nightly"
    assert got.inputs.dataset_inputs[0].dataset.name == "transactions"
    assert got.outputs.model_outputs[0].model_id == model.model_id
    assert [m.value for m in client.get_metric_history(run_id, "auc")] == [0.8, 0.9]
    assert [
        r.info.run_id for r in client.search_runs([experiment_id], "tags.kind = 'nightly'")
    ] == [run_id]
    with pytest.raises(MlflowException) as missing:
        client.get_run("f" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_a_point_logged_again_is_kept_once_and_a_logged_model_claims_it(alice_mlflow):
    run_id = alice_mlflow.new_run()
    auc = {"key": "auc", "value": 0.9, "timestamp": 7, "step": 2}
    loss = {"key": "loss", "value": "NaN", "timestamp": 7, "step": 2}
    alice_mlflow.ok(alice_mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": [auc, loss]}))
    alice_mlflow.ok(alice_mlflow.post("runs/log-metric", {"run_id": run_id, **auc}))
    model_id = alice_mlflow.ok(
        alice_mlflow.post("logged-models", {"experiment_id": "0", "source_run_id": run_id})
    )["model"]["info"]["model_id"]
    # What mlflow's log_model does: the step's points again, with the logged model's id.
    alice_mlflow.ok(
        alice_mlflow.post(
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{**auc, "model_id": model_id}, {**loss, "model_id": model_id}],
            },
        )
    )
    history = alice_mlflow.ok(
        alice_mlflow.get("metrics/get-history", run_id=run_id, metric_key="auc")
    )
    assert [(m["value"], m.get("model_id")) for m in history["metrics"]] == [(0.9, model_id)]
    assert MetricPoint.objects.filter(run_id=run_id).count() == 2
    model = alice_mlflow.ok(alice_mlflow.get(f"logged-models/{model_id}"))["model"]
    assert sorted((m["key"], m["value"]) for m in model["data"]["metrics"]) == [
        ("auc", 0.9),
        ("loss", "NaN"),
    ]


@pytest.mark.django_db(transaction=True)
def test_parallel_logging_to_one_run_loses_nothing(live_server, alice, token_for):
    """MLflow's asynchronous logging sends batches for one run at the same time."""
    import requests

    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    url = f"{live_server.url}{API}"
    run_id = requests.post(
        url + "runs/create", json={"experiment_id": "0"}, headers=headers, timeout=30
    ).json()["run"]["info"]["run_id"]

    def log(index: int) -> int:
        batch = {
            "run_id": run_id,
            "params": [{"key": f"p{index}", "value": str(index)}],
            "tags": [{"key": f"t{index}", "value": str(index)}],
            "metrics": [{"key": "loss", "value": 1 / (index + 1), "timestamp": 1, "step": index}],
        }
        return requests.post(
            url + "runs/log-batch", json=batch, headers=headers, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(log, range(16))) == {200}
    run = Run.objects.get(pk=run_id)
    assert run.params == {f"p{i}": str(i) for i in range(16)}
    assert all(run.tags[f"t{i}"] == str(i) for i in range(16))
    assert MetricPoint.objects.filter(run=run, key="loss").count() == 16

"""MLflow 2.x's client, in its own virtualenv (.venv-mlflow2, made by `make test`), against a
live Vetted: teams that have not moved to MLflow 3 change no code either.

MLflow 2 logs a model as files under its run's artifact root, records it with `runs/log-model`,
and registers the run's artifact location as the version's source.
"""

import json
import subprocess
from pathlib import Path

import pytest

from registry.models import ModelVersion
from tests.conftest import need

pytest_plugins = ["tests.mlflow_server"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MLFLOW2_PYTHON = REPO_ROOT / ".venv-mlflow2" / "bin" / "python"
NAME = "fraud-detector"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# Runs with the 2.x client only: logs twice, registers a runs:/ URI, moves an alias and loads the
# model back by it, printing what a test can compare.
SCRIPT = f"""
import json
import mlflow, mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

frame = load_iris(as_frame=True).frame
features, target = frame.drop(columns="target"), frame["target"]
model = LogisticRegression(max_iter=500).fit(features, target)
mlflow.set_experiment("fraud-detection")
tags = {{"mlflow.source.git.commit": "{COMMIT}", "mlflow.source.git.branch": "main"}}
with mlflow.start_run(tags=tags) as run:
    mlflow.log_param("max_iter", 500)
    mlflow.log_metric("accuracy", 0.97)
    mlflow.sklearn.log_model(model, "model", registered_model_name="{NAME}")
registered = mlflow.register_model(f"runs:/{{run.info.run_id}}/model", "{NAME}")
client = mlflow.MlflowClient()
client.set_registered_model_alias("{NAME}", "challenger", registered.version)
loaded = mlflow.pyfunc.load_model("models:/{NAME}@challenger")
print(json.dumps({{
    "mlflow": mlflow.__version__,
    "run_id": run.info.run_id,
    "version": registered.version,
    "source": client.get_model_version("{NAME}", "1").source,
    "same_predictions": loaded.predict(features).tolist() == model.predict(features).tolist(),
}}))
"""


@pytest.fixture
def mlflow2_python():
    need("the MLflow 2.x client in .venv-mlflow2 (make test-clients)", MLFLOW2_PYTHON.exists())
    return str(MLFLOW2_PYTHON)


def test_an_mlflow_2_client_logs_registers_and_loads_by_alias(
    mlflow_as, alice, mlflow2_python, tmp_path
):
    conn = mlflow_as(alice)

    done = subprocess.run(
        [mlflow2_python, "-c", SCRIPT],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)} | conn.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-6000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["mlflow"].startswith("2.")
    assert answer["version"] == "2" and answer["same_predictions"]
    # MLflow 2 registers the run's artifact location, which Vetted handed out and holds.
    assert answer["source"].startswith("mlflow-artifacts:/")
    assert answer["source"].endswith(f"/{answer['run_id']}/artifacts/model")
    versions = ModelVersion.objects.filter(model__name=NAME).order_by("number")
    assert [version.number for version in versions] == [1, 2]
    for version in versions:
        assert version.git_commit == COMMIT and version.params == {"max_iter": "500"}
        assert version.metrics == {"accuracy": 0.97} and "sklearn" in version.flavors
        assert version.artifacts.filter(path="MLmodel").exists()

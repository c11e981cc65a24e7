"""A fraud model with an MLflow signature, and tables to upload to it, for the dataset tests."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from .page_factories import pushed_version, registered_model

NAME = "fraud-detector"
SIGNATURE_INPUTS = [
    {"type": "double", "name": "amount", "required": True},
    {"type": "long", "name": "hour", "required": True},
    {"type": "string", "name": "merchant", "required": True},
]
MLMODEL = f"""\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
mlflow_version: 2.17.0
signature:
  inputs: '{json.dumps(SIGNATURE_INPUTS)}'
  outputs: '[{{"type": "long", "required": true}}]'
"""


def fraud_model(alice, team, *, signature=True):
    """The model with one version whose MLmodel carries the signature (or no MLmodel at all)."""
    model = registered_model(alice, team, NAME, task_type="classification")
    files = (("MLmodel", MLMODEL.encode()),) if signature else (("model.pkl", b"weights"),)
    pushed_version(alice, model, files=files)
    return model


def transactions(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Rows matching the signature, plus a label, a prediction, a score and a region."""
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=rows)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, rows).round(2),
            "hour": rng.integers(0, 24, rows),
            "merchant": rng.choice(["grocery", "travel", "online"], rows),
            "is_fraud": (rng.uniform(size=rows) < score).astype(int),
            "predicted": (score > 0.5).astype(int),
            "score": score,
            "region": rng.choice(["north", "south"], rows),
        }
    )
    frame.loc[[3, 7], "amount"] = np.nan
    frame.loc[[5], "merchant"] = None
    return frame


def csv_file(frame: pd.DataFrame, name: str = "data.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, frame.to_csv(index=False).encode(), "text/csv")


def parquet_file(frame: pd.DataFrame, name: str = "data.parquet") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return SimpleUploadedFile(name, buffer.getvalue(), "application/octet-stream")


# --- The credit model: a binary classifier pickled by MLflow ---------------------------------

FEATURES = ["income", "age"]


def credit_frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Two numeric features, a protected group and a label the features mostly explain."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50 + shift, 10, rows)
    age = rng.normal(40, 12, rows)
    group = rng.choice(["a", "b"], rows, p=[0.7, 0.3])
    noise = rng.normal(0, 1, rows)
    label = (0.08 * (income - 50) + 0.05 * (age - 40) + noise > 0).astype(int)
    return pd.DataFrame({"income": income, "age": age, "group": group, "y": label})


@pytest.fixture(scope="session")
def credit_model(tmp_path_factory):
    """(MLflow folder, the fitted estimator): logistic regression, a binary classifier."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    train = credit_frame(2000, seed=1)
    estimator = LogisticRegression().fit(train[FEATURES], train["y"])
    path = tmp_path_factory.mktemp("models") / "credit"
    mlflow.sklearn.save_model(
        estimator,
        str(path),
        signature=infer_signature(train[FEATURES], estimator.predict(train[FEATURES])),
    )
    return path, estimator

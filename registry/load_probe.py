"""Run inside the sandbox (sandbox.runner.run_probe): load an MLflow model with pyfunc and
predict once. It imports nothing of Vetted: the project is not in the sandbox.
"""

import time
from pathlib import Path


def sample_input(metadata, model_dir: str):
    """The saved input example, or three rows built from the signature's input schema."""
    example = metadata.load_input_example(model_dir)
    if example is not None:
        return example
    signature = metadata.get_input_schema()
    if signature is None:
        raise ValueError(
            "The model has neither an input example nor a signature to build input from."
        )
    import numpy as np
    import pandas as pd

    if signature.is_tensor_spec():
        spec = signature.inputs[0]
        shape = tuple(3 if d == -1 else d for d in spec.shape)
        return np.zeros(shape, dtype=spec.type)
    values = {
        "double": 0.5,
        "float": 0.5,
        "long": 1,
        "integer": 1,
        "boolean": False,
        "string": "a",
        "binary": b"a",
        "datetime": pd.Timestamp("2024-01-01"),
    }
    columns = {}
    for i, col in enumerate(signature.inputs):
        name = col.name if col.name is not None else i
        type_name = getattr(col.type, "name", str(col.type))
        columns[name] = [values.get(type_name, 0.5)] * 3
    return pd.DataFrame(columns)


def run(model_dir: str, inputs: Path, outputs: Path) -> dict:
    """Load time, predict time and the prediction's shape; what it raises is the answer too."""
    import mlflow.pyfunc

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_dir)
    loaded = time.perf_counter()
    prediction = model.predict(sample_input(model.metadata, model_dir))
    shape = list(getattr(prediction, "shape", (len(prediction),)))
    return {
        "ok": True,
        "load_seconds": round(loaded - started, 3),
        "predict_seconds": round(time.perf_counter() - loaded, 3),
        "prediction_shape": [int(d) for d in shape],
    }

"""Run inside the sandbox: load an MLflow model with pyfunc and predict once.

The sandbox runs it as `entry.py MODEL_DIR INPUTS_DIR` and reads one JSON object from the file
descriptor in SANDBOX_RESULT_FD. It imports nothing of Vetted: the project is not in the sandbox.
"""

import json
import os
import sys
import time
import traceback


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


def probe(model_dir: str) -> dict:
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


def main() -> None:
    try:
        result = probe(sys.argv[1])
    except MemoryError:
        result = {"ok": False, "error": "MemoryError: the model needs more memory than allowed."}
    except BaseException as exc:  # report anything the model's code raises, then exit cleanly
        lines = traceback.format_exception(exc)
        result = {"ok": False, "error": "".join(lines[-12:]).strip()[-8000:]}
    with os.fdopen(int(os.environ["SANDBOX_RESULT_FD"]), "w") as channel:
        channel.write(json.dumps(result))


if __name__ == "__main__":
    main()

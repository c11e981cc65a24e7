"""Run inside the sandbox: load a stored model and predict on a dataset, batch by batch.

The sandbox runs it as `entry.py MODEL_DIR INPUTS_DIR OUTPUTS_DIR`. It reads `request.json`
(the feature columns, the batch size) and `dataset.parquet` from INPUTS_DIR, writes
`predictions.parquet` (a `prediction` column, and `score`, the positive class's probability, when
the model is a scikit-learn binary classifier) and `progress` (rows done so far) to OUTPUTS_DIR,
and one JSON object to the file descriptor in SANDBOX_RESULT_FD. It imports nothing of Vetted:
the project is not in the sandbox. The metrics are computed outside, from what it wrote.
"""

import json
import os
import sys
import time
import traceback
from pathlib import Path


def _column(prediction):
    """One prediction per row, whatever shape the model's predict() answers in."""
    import numpy as np
    import pandas as pd

    if isinstance(prediction, pd.DataFrame):
        if prediction.shape[1] != 1:
            raise ValueError(
                f"The model predicts {prediction.shape[1]} columns; an evaluation needs one."
            )
        return prediction.iloc[:, 0].to_numpy()
    values = np.asarray(prediction)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"The model predicts an array of shape {values.shape}; one value a row.")
    return values


def _scorer(model_dir: str, metadata):
    """predict_proba's positive column when the model is scikit-learn's binary classifier."""
    if "sklearn" not in metadata.flavors:
        return None, []
    import mlflow.sklearn

    estimator = mlflow.sklearn.load_model(model_dir)
    classes = [str(c) for c in getattr(estimator, "classes_", [])]
    if not hasattr(estimator, "predict_proba") or len(classes) != 2:
        return None, classes
    return estimator, classes


def predict(model_dir: str, inputs: Path, outputs: Path) -> dict:
    import mlflow.pyfunc
    import pyarrow as pa
    import pyarrow.parquet as pq

    request = json.loads((inputs / "request.json").read_text())
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_dir)
    scorer, classes = _scorer(model_dir, model.metadata)
    loaded = time.perf_counter()
    source = pq.ParquetFile(inputs / "dataset.parquet")
    writer = None
    rows = 0
    try:
        for batch in source.iter_batches(
            batch_size=int(request["batch_rows"]), columns=request["features"]
        ):
            frame = batch.to_pandas()
            columns = {"prediction": pa.array(_column(model.predict(frame)))}
            if scorer is not None:
                columns["score"] = pa.array(scorer.predict_proba(frame)[:, 1].astype("float64"))
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(outputs / "predictions.parquet", table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += len(frame)
            (outputs / "progress").write_text(str(rows))
    finally:
        if writer is not None:
            writer.close()
    return {
        "ok": True,
        "rows": rows,
        "has_score": scorer is not None,
        "classes": classes,
        "load_seconds": round(loaded - started, 3),
        "predict_seconds": round(time.perf_counter() - loaded, 3),
    }


def main() -> None:
    try:
        result = predict(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
    except MemoryError:
        result = {"ok": False, "error": "MemoryError: the model needs more memory than allowed."}
    except BaseException as exc:  # report anything the model's code raises, then exit cleanly
        lines = traceback.format_exception(exc)
        result = {"ok": False, "error": "".join(lines[-12:]).strip()[-8000:]}
    with os.fdopen(int(os.environ["SANDBOX_RESULT_FD"]), "w") as channel:
        channel.write(json.dumps(result))


if __name__ == "__main__":
    main()

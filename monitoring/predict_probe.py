"""Run inside the sandbox (sandbox.runner.run_probe): load a stored model and predict on a
dataset, batch by batch.

It reads `request.json` (the feature columns, the batch size) and `dataset.parquet` from
INPUTS_DIR, and writes `predictions.parquet` (a `prediction` column, and `score`, the positive
class's probability, when the model is a scikit-learn binary classifier) and `progress` (rows
done so far) to OUTPUTS_DIR. It imports nothing of Vetted: the project is not in the sandbox.
The metrics are computed outside, from what it wrote.
"""

import json
import time
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


def run(model_dir: str, inputs: Path, outputs: Path) -> dict:
    """Rows predicted, whether there is a score, the classes and the timings."""
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

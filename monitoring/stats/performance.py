"""Performance of predictions against labels, with scikit-learn's definitions and names.

Classification: labels are compared by name (see categories.category_name), so 1, 1.0 and "1"
are one class. Two classes (or one) are scored on the positive label ("1", "True", "yes", or
the second of the two in order) with average "binary"; more than two with the macro average.
ROC AUC, log loss, the ROC curve and calibration need `score`, the predicted probability of
the positive class, and exist only for two classes. Undefined precision, recall and F1 (no
predicted or no actual positives) are 0, as scikit-learn's zero_division default gives; ROC AUC
with one class present is null (scikit-learn raises).

Rows whose label or prediction is missing are skipped and counted in "missing" (and rows
without a score are left out of the score's metrics only). Segments report the same metrics per
value of a column, the MAX_SEGMENT_VALUES most frequent values.
"""

import numpy as np
import pandas as pd

from monitoring.stats.categories import MISSING, encode, numeric_values

POSITIVE_NAMES = ("1", "True", "true", "yes", "positive")
CALIBRATION_BINS = 10  # scikit-learn's calibration_curve default, strategy "uniform"
MAX_CURVE_POINTS = 501  # a ROC curve is thinned to this many points for the charts
MAX_SEGMENT_VALUES = 50
MISSING_NAME = "(missing)"


def evaluate(task: str, y_true, y_pred, score=None, segments: dict | None = None) -> dict:
    """The metrics of one evaluation, in the shape EvaluationRun.metrics stores."""
    if task == "classification":
        return _classification(y_true, y_pred, score, segments or {})
    if task == "regression":
        return _regression(y_true, y_pred, segments or {})
    raise ValueError(f"task must be classification or regression, not {task!r}")


def positive_label(labels: list[str]) -> tuple[list[str], str | None]:
    """The labels a confusion matrix shows, and the positive one (None: more than two classes).

    0/1 and False/True data keep both labels even when only one occurs, so a batch of
    negatives still reads as a binary problem with no positives.
    """
    for pair in (["0", "1"], ["False", "True"]):
        if set(labels) <= set(pair):
            return pair, pair[1]
    if len(labels) > 2:
        return labels, None
    for name in POSITIVE_NAMES:
        if name in labels:
            return labels, name
    return labels, labels[-1] if labels else None


def number(value: float | np.floating | None) -> float | None:
    """A float for JSON, with NaN and infinities as None."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


# --- classification ---------------------------------------------------------------------------


def _classification(y_true, y_pred, score, segments: dict) -> dict:
    true_series = pd.Series(np.asarray(y_true, dtype=object))
    pred_series = pd.Series(np.asarray(y_pred, dtype=object))
    if len(true_series) != len(pred_series):
        raise ValueError("labels and predictions must have the same length")
    codes, labels = encode(pd.concat([true_series, pred_series], ignore_index=True))
    true_codes, pred_codes = codes[: len(true_series)], codes[len(true_series) :]
    labels, positive = positive_label(labels)
    keep = (true_codes != MISSING) & (pred_codes != MISSING)
    scores = None
    if score is not None:
        scores = numeric_values(score)
        if len(scores) != len(true_series):
            raise ValueError("scores and labels must have the same length")
        present = scores[~np.isnan(scores)]
        if present.size and (present.min() < 0 or present.max() > 1):
            raise ValueError("the score must be a probability between 0 and 1")
    pos = labels.index(positive) if positive is not None else None
    overall = _class_metrics(true_codes[keep], pred_codes[keep], _kept(scores, keep), labels, pos)
    overall.update(_class_curves(true_codes[keep], _kept(scores, keep), pos))
    missing = {
        "label": int((true_codes == MISSING).sum()),
        "prediction": int((pred_codes == MISSING).sum()),
    }
    if scores is not None:
        missing["score"] = int(np.isnan(scores[keep]).sum())
    summary_keys = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
    return {
        "task": "classification",
        "rows": int(keep.sum()),
        "positive_label": positive,
        "average": "binary" if pos is not None else "macro",
        "overall": overall,
        "segments": {
            name: _segments(
                values,
                keep,
                lambda rows: _class_metrics(
                    true_codes[keep][rows],
                    pred_codes[keep][rows],
                    _kept(_kept(scores, keep), rows),
                    labels,
                    pos,
                ),
            )
            for name, values in segments.items()
        },
        "missing": missing,
        "summary": {key: overall[key] for key in summary_keys},
    }


def _kept(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[rows]


def _class_metrics(
    true_codes: np.ndarray,
    pred_codes: np.ndarray,
    scores: np.ndarray | None,
    labels: list[str],
    pos: int | None,
) -> dict:
    k = len(labels)
    matrix = np.bincount(true_codes * k + pred_codes, minlength=k * k).reshape(k, k)
    rows = int(matrix.sum())
    diagonal = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, diagonal / predicted, 0.0)
        recall = np.where(actual > 0, diagonal / actual, 0.0)
        f1_denominator = predicted + actual
        f1 = np.where(f1_denominator > 0, 2 * diagonal / f1_denominator, 0.0)
    if pos is not None:
        chosen = {"precision": precision[pos], "recall": recall[pos], "f1": f1[pos]}
    else:
        # Macro: over the labels that occur in the labels or the predictions, as scikit-learn.
        present = (predicted + actual) > 0
        chosen = {
            "precision": precision[present].mean() if present.any() else np.nan,
            "recall": recall[present].mean() if present.any() else np.nan,
            "f1": f1[present].mean() if present.any() else np.nan,
        }
    result: dict = {
        "count": rows,
        "accuracy": number(diagonal.sum() / rows) if rows else None,
        **{key: number(value) if rows else None for key, value in chosen.items()},
        "roc_auc": None,
        "log_loss": None,
    }
    if pos is not None and scores is not None:
        has_score = ~np.isnan(scores)
        positives = (true_codes == pos)[has_score]
        probabilities = scores[has_score]
        result["roc_auc"] = number(_roc_auc(positives, probabilities))
        result["log_loss"] = number(_log_loss(positives, probabilities))
    result["confusion_matrix"] = {"labels": labels, "matrix": matrix.tolist()}
    return result


def _roc_points(positives: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive counts at each distinct threshold (scikit-learn's
    _binary_clf_curve), collinear points dropped, starting at (0, 0)."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    sorted_scores, sorted_positives = scores[order], positives[order]
    thresholds = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_positives.size - 1]
    tps = np.cumsum(sorted_positives, dtype=np.float64)[thresholds]
    fps = 1 + thresholds - tps
    if fps.size > 2:
        corners = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[corners], tps[corners]
    return np.r_[0.0, fps], np.r_[0.0, tps]


def _roc_auc(positives: np.ndarray, scores: np.ndarray) -> float | None:
    count = int(positives.sum())
    if count == 0 or count == positives.size:
        return None
    fps, tps = _roc_points(positives, scores)
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def _log_loss(positives: np.ndarray, scores: np.ndarray) -> float | None:
    if positives.size == 0:
        return None
    eps = np.finfo(np.float64).eps
    clipped = np.clip(scores, eps, 1 - eps)
    return float(-np.mean(np.where(positives, np.log(clipped), np.log1p(-clipped))))


def _class_curves(true_codes: np.ndarray, scores: np.ndarray | None, pos: int | None) -> dict:
    if pos is None or scores is None:
        return {"roc_curve": None, "calibration": None}
    has_score = ~np.isnan(scores)
    positives, probabilities = (true_codes == pos)[has_score], scores[has_score]
    roc = None
    count = int(positives.sum())
    if 0 < count < positives.size:
        fps, tps = _roc_points(positives, probabilities)
        fpr, tpr = fps / fps[-1], tps / tps[-1]
        if fpr.size > MAX_CURVE_POINTS:
            picked = np.unique(np.linspace(0, fpr.size - 1, MAX_CURVE_POINTS).round().astype(int))
            fpr, tpr = fpr[picked], tpr[picked]
        roc = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    calibration = None
    if probabilities.size:
        edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
        bins = np.searchsorted(edges[1:-1], probabilities)
        total = np.bincount(bins, minlength=CALIBRATION_BINS)
        predicted = np.bincount(bins, weights=probabilities, minlength=CALIBRATION_BINS)
        observed = np.bincount(bins, weights=positives, minlength=CALIBRATION_BINS)
        filled = total > 0
        calibration = {
            "mean_predicted": (predicted[filled] / total[filled]).tolist(),
            "fraction_positive": (observed[filled] / total[filled]).tolist(),
            "count": total[filled].tolist(),
        }
    return {"roc_curve": roc, "calibration": calibration}


# --- regression -------------------------------------------------------------------------------


def _regression(y_true, y_pred, segments: dict) -> dict:
    truth, predicted = numeric_values(y_true), numeric_values(y_pred)
    if truth.size != predicted.size:
        raise ValueError("labels and predictions must have the same length")
    keep = ~np.isnan(truth) & ~np.isnan(predicted)
    overall = _regression_metrics(truth[keep], predicted[keep])
    return {
        "task": "regression",
        "rows": int(keep.sum()),
        "overall": overall,
        "segments": {
            name: _segments(
                values,
                keep,
                lambda rows: _regression_metrics(truth[keep][rows], predicted[keep][rows]),
            )
            for name, values in segments.items()
        },
        "missing": {
            "label": int(np.isnan(truth).sum()),
            "prediction": int(np.isnan(predicted).sum()),
        },
        "summary": {key: overall[key] for key in ("mae", "rmse", "r2", "mape")},
    }


def _regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    rows = truth.size
    if rows == 0:
        return {"count": 0, "mae": None, "rmse": None, "r2": None, "mape": None}
    errors = truth - predicted
    squared = float(np.mean(errors**2))
    residual = float(np.sum(errors**2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    if rows < 2:
        r2 = None  # scikit-learn: not well-defined with fewer than two samples
    elif total == 0:
        r2 = 1.0 if residual == 0 else 0.0  # scikit-learn's force_finite convention
    else:
        r2 = 1 - residual / total
    eps = np.finfo(np.float64).eps
    return {
        "count": rows,
        "mae": number(np.mean(np.abs(errors))),
        "rmse": number(np.sqrt(squared)),
        "r2": number(r2),
        "mape": number(np.mean(np.abs(errors) / np.maximum(np.abs(truth), eps))),
    }


# --- segments ---------------------------------------------------------------------------------


def _segments(values, keep: np.ndarray, metrics) -> list[dict]:
    """Metrics per value of a segment column over the kept rows, the largest segments first."""
    column = np.asarray(values, dtype=object)
    if column.size != keep.size:
        raise ValueError("a segment column must have one value per row")
    codes, names = encode(pd.Series(column[keep]))
    names = [*names, MISSING_NAME]
    codes = np.where(codes == MISSING, len(names) - 1, codes)
    counts = np.bincount(codes, minlength=len(names))
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    result = []
    for index in order[:MAX_SEGMENT_VALUES]:
        scored = metrics(codes == index)
        scored.pop("confusion_matrix", None)
        result.append({"value": names[index], **scored})
    return result

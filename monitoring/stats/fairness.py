"""Group fairness for each protected attribute and each pair's intersection, with fairlearn's
definitions and names, from one np.bincount per attribute.

Classification is judged on the positive label (performance.positive_label): each row falls in
one cell of group × (label positive?) × (prediction positive?), so a single bincount gives every
group's true/false positives and negatives, and every rate follows from those counts.
Regression reports each group's mean absolute error ("error").

A group smaller than `min_group_size` is reported with its count and `too_small`, and left out
of the differences and ratios; so is a group's TPR (FPR) when it has no actual positives
(negatives): that rate is undefined (null), where fairlearn would count it as 0 and call the
model maximally unfair to a group it never saw. Differences are max − min over the judged
groups, ratios min / max (fairlearn's "between_groups"); the disparate impact ratio is the
selection-rate ratio, and the four-fifths rule holds when it is at least `four_fifths`.
Rows whose label or prediction is missing are skipped; a missing protected value is its own
group, "(missing)".
"""

from itertools import combinations

import numpy as np
import pandas as pd

from monitoring.stats.categories import MISSING, encode, numeric_values
from monitoring.stats.performance import MISSING_NAME, number, positive_label

INTERSECTION = " × "


def evaluate(
    task: str,
    y_true,
    y_pred,
    protected: dict,
    min_group_size: int = 30,
    four_fifths: float = 0.8,
) -> dict:
    """Per-group rates and per-attribute gaps, in the shape EvaluationRun.metrics stores."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be classification or regression, not {task!r}")
    if task == "classification":
        outcome, missing, keep = _binary_outcomes(y_true, y_pred)
    else:
        truth, predicted = numeric_values(y_true), numeric_values(y_pred)
        if truth.size != predicted.size:
            raise ValueError("labels and predictions must have the same length")
        keep = ~np.isnan(truth) & ~np.isnan(predicted)
        missing = {
            "label": int(np.isnan(truth).sum()),
            "prediction": int(np.isnan(predicted).sum()),
        }
        outcome = np.abs(truth - predicted)[keep]

    attributes = []
    groups: dict[str, tuple[np.ndarray, list[str]]] = {}
    for name, values in protected.items():
        column = values if isinstance(values, pd.Series) else pd.Series(values)
        if len(column) != keep.size:
            raise ValueError(f"the protected attribute {name!r} must have one value per row")
        codes, labels = encode(column[keep])
        if (codes == MISSING).any():
            codes = np.where(codes == MISSING, len(labels), codes)
            labels = [*labels, MISSING_NAME]
        groups[name] = (codes, labels)
        attributes.append((name, [name], codes, labels, True))
    for first, second in combinations(groups, 2):
        codes_a, labels_a = groups[first]
        codes_b, labels_b = groups[second]
        codes = codes_a * len(labels_b) + codes_b
        labels = [f"{a}{INTERSECTION}{b}" for a in labels_a for b in labels_b]
        attributes.append((f"{first}{INTERSECTION}{second}", [first, second], codes, labels, False))

    results = [
        _attribute(
            task, name, columns, codes, labels, outcome, keep_empty, min_group_size, four_fifths
        )
        for name, columns, codes, labels, keep_empty in attributes
    ]
    return {
        "task": task,
        "rows": int(keep.sum()),
        "min_group_size": min_group_size,
        "attributes": results,
        "missing": missing,
        "summary": _summary(task, results),
    }


def _binary_outcomes(y_true, y_pred) -> tuple[np.ndarray, dict, np.ndarray]:
    """Each kept row's cell: 2 × (label positive) + (prediction positive)."""
    true_series = pd.Series(np.asarray(y_true, dtype=object))
    pred_series = pd.Series(np.asarray(y_pred, dtype=object))
    if len(true_series) != len(pred_series):
        raise ValueError("labels and predictions must have the same length")
    codes, labels = encode(pd.concat([true_series, pred_series], ignore_index=True))
    true_codes, pred_codes = codes[: len(true_series)], codes[len(true_series) :]
    labels, positive = positive_label(labels)
    if positive is None:
        raise ValueError("fairness needs two classes; these labels have more")
    pos = labels.index(positive)
    keep = (true_codes != MISSING) & (pred_codes != MISSING)
    missing = {
        "label": int((true_codes == MISSING).sum()),
        "prediction": int((pred_codes == MISSING).sum()),
    }
    cells = 2 * (true_codes[keep] == pos) + (pred_codes[keep] == pos)
    return cells.astype(np.int64), missing, keep


def _attribute(task, name, columns, codes, labels, outcome, keep_empty, min_size, four_fifths):
    size = len(labels)
    if task == "classification":
        cells = np.bincount(codes * 4 + outcome, minlength=size * 4).reshape(size, 4)
        tn, fp, fn, tp = (cells[:, i].astype(np.float64) for i in range(4))
        count = cells.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = {
                "selection_rate": (tp + fp) / count,
                "tpr": tp / (tp + fn),
                "fpr": fp / (fp + tn),
                "accuracy": (tp + tn) / count,
            }
    else:
        count = np.bincount(codes, minlength=size)
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = {"error": np.bincount(codes, weights=outcome, minlength=size) / count}
    judged = count >= max(min_size, 1)
    groups = [
        {
            "value": labels[i],
            "count": int(count[i]),
            **{key: number(values[i]) for key, values in rates.items()},
            "too_small": not judged[i],
        }
        for i in range(size)
        if keep_empty or count[i] > 0
    ]
    result = {"name": name, "columns": columns, "groups": groups}
    if task == "classification":
        selection = _gap(rates["selection_rate"], judged)
        tpr, fpr = _gap(rates["tpr"], judged), _gap(rates["fpr"], judged)
        ratio = selection[1]
        result.update(
            demographic_parity_difference=selection[0],
            demographic_parity_ratio=ratio,
            equalized_odds_difference=_worst(max, tpr[0], fpr[0]),
            equalized_odds_ratio=_worst(min, tpr[1], fpr[1]),
            disparate_impact_ratio=ratio,
            four_fifths=None if ratio is None else ratio >= four_fifths,
        )
    else:
        error = _gap(rates["error"], judged)
        result.update(error_difference=error[0], error_ratio=error[1])
    return result


def _gap(values: np.ndarray, judged: np.ndarray) -> tuple[float | None, float | None]:
    """max − min and min / max over the judged groups where the value is defined."""
    defined = values[judged & np.isfinite(values)]
    if defined.size < 2:
        return None, None
    low, high = defined.min(), defined.max()
    return number(high - low), (number(low / high) if high > 0 else None)


def _worst(pick, first: float | None, second: float | None) -> float | None:
    values = [value for value in (first, second) if value is not None]
    return pick(values) if values else None


def _summary(task: str, attributes: list[dict]) -> dict:
    def extreme(pick, key):
        values = [a[key] for a in attributes if a.get(key) is not None]
        return pick(values) if values else None

    if task == "regression":
        return {"max_error_difference": extreme(max, "error_difference")}
    return {
        "min_disparate_impact_ratio": extreme(min, "disparate_impact_ratio"),
        "max_demographic_parity_difference": extreme(max, "demographic_parity_difference"),
        "max_equalized_odds_difference": extreme(max, "equalized_odds_difference"),
    }

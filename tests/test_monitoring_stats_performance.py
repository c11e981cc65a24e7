"""Performance metrics equal scikit-learn's on the same data, to 1e-9, including the edges:
one class only, missing labels and predictions, mixed label types, multiclass, regression."""

import numpy as np
import pandas as pd
import pytest
from sklearn import calibration, metrics

from monitoring.stats.performance import evaluate

EXACT = {"abs": 1e-9, "rel": 1e-9}


@pytest.fixture
def binary():
    rng = np.random.default_rng(3)
    n = 4000
    truth = rng.integers(0, 2, n)
    score = np.clip(truth * 0.3 + rng.random(n) * 0.7, 0, 1).round(2)  # ties on purpose
    predicted = (score > 0.5).astype(int)
    segment = rng.choice(["web", "shop", "app"], n)
    return truth, predicted, score, segment


def test_binary_classification_equals_scikit_learn(binary):
    truth, predicted, score, segment = binary
    result = evaluate("classification", truth, predicted, score, {"channel": segment})
    overall = result["overall"]
    assert result["positive_label"] == "1" and result["average"] == "binary"
    assert result["rows"] == truth.size
    assert overall["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted), **EXACT)
    assert overall["precision"] == pytest.approx(metrics.precision_score(truth, predicted), **EXACT)
    assert overall["recall"] == pytest.approx(metrics.recall_score(truth, predicted), **EXACT)
    assert overall["f1"] == pytest.approx(metrics.f1_score(truth, predicted), **EXACT)
    assert overall["roc_auc"] == pytest.approx(metrics.roc_auc_score(truth, score), **EXACT)
    assert overall["log_loss"] == pytest.approx(metrics.log_loss(truth, score), **EXACT)
    assert overall["confusion_matrix"] == {
        "labels": ["0", "1"],
        "matrix": metrics.confusion_matrix(truth, predicted).tolist(),
    }
    fpr, tpr, _ = metrics.roc_curve(truth, score)
    assert overall["roc_curve"]["fpr"] == pytest.approx(fpr, **EXACT)
    assert overall["roc_curve"]["tpr"] == pytest.approx(tpr, **EXACT)
    fraction, mean_predicted = calibration.calibration_curve(truth, score, n_bins=10)
    assert overall["calibration"]["fraction_positive"] == pytest.approx(fraction, **EXACT)
    assert overall["calibration"]["mean_predicted"] == pytest.approx(mean_predicted, **EXACT)
    assert sum(overall["calibration"]["count"]) == truth.size
    assert result["summary"] == {
        key: overall[key]
        for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
    }
    for row in result["segments"]["channel"]:
        rows = segment == row["value"]
        assert row["count"] == rows.sum()
        assert row["f1"] == pytest.approx(metrics.f1_score(truth[rows], predicted[rows]), **EXACT)
        assert row["roc_auc"] == pytest.approx(
            metrics.roc_auc_score(truth[rows], score[rows]), **EXACT
        )
    counts = [row["count"] for row in result["segments"]["channel"]]
    assert counts == sorted(counts, reverse=True)


def test_long_roc_curves_are_thinned_for_charts():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 20_000)
    score = rng.random(20_000)
    result = evaluate("classification", truth, (score > 0.5).astype(int), score)
    curve = result["overall"]["roc_curve"]
    assert len(curve["fpr"]) <= 501
    assert (curve["fpr"][0], curve["tpr"][0], curve["fpr"][-1], curve["tpr"][-1]) == (0, 0, 1, 1)
    assert result["overall"]["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(truth, score), **EXACT
    )


def test_missing_labels_and_predictions_are_counted_and_skipped(binary):
    truth, predicted, score, _ = binary
    truth_with_gaps = truth.astype(float)
    truth_with_gaps[:30] = np.nan
    predicted_with_gaps = predicted.astype(object)
    predicted_with_gaps[20:50] = None
    score_with_gaps = score.copy()
    score_with_gaps[100:110] = np.nan
    result = evaluate("classification", truth_with_gaps, predicted_with_gaps, score_with_gaps)
    assert result["missing"] == {"label": 30, "prediction": 30, "score": 10}
    kept = slice(50, None)
    assert result["rows"] == truth.size - 50
    assert result["overall"]["f1"] == pytest.approx(
        metrics.f1_score(truth[kept], predicted[kept]), **EXACT
    )
    scored = np.ones(truth.size, bool)
    scored[:50] = scored[100:110] = False
    assert result["overall"]["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(truth[scored], score[scored]), **EXACT
    )


def test_one_class_only():
    truth = np.zeros(50, int)
    predicted = np.r_[np.zeros(45, int), np.ones(5, int)]
    score = np.linspace(0.01, 0.9, 50)
    result = evaluate("classification", truth, predicted, score)
    overall = result["overall"]
    assert overall["accuracy"] == pytest.approx(0.9, **EXACT)
    assert overall["precision"] == metrics.precision_score(truth, predicted, zero_division=0)
    assert overall["recall"] == 0.0 and overall["f1"] == 0.0
    assert overall["roc_auc"] is None and overall["roc_curve"] is None
    assert overall["log_loss"] == pytest.approx(
        metrics.log_loss(truth, score, labels=[0, 1]), **EXACT
    )
    assert overall["confusion_matrix"] == {"labels": ["0", "1"], "matrix": [[45, 5], [0, 0]]}


def test_labels_of_mixed_types_are_one_class():
    truth = pd.Series([1, 0, 1, 1, 0], dtype=object)
    predicted = pd.Series(["1", "0", "0", 1.0, 0.0], dtype=object)
    result = evaluate("classification", truth, predicted)
    assert result["overall"]["accuracy"] == pytest.approx(0.8, **EXACT)
    assert result["overall"]["confusion_matrix"]["labels"] == ["0", "1"]


def test_multiclass_uses_the_macro_average():
    rng = np.random.default_rng(11)
    truth = rng.choice(["cat", "dog", "eel"], 900)
    predicted = np.where(rng.random(900) < 0.7, truth, rng.choice(["cat", "dog", "fox"], 900))
    result = evaluate("classification", truth, predicted, segments={"s": truth})
    overall = result["overall"]
    assert result["average"] == "macro" and result["positive_label"] is None
    for name, function in [
        ("precision", metrics.precision_score),
        ("recall", metrics.recall_score),
        ("f1", metrics.f1_score),
    ]:
        expected = function(truth, predicted, average="macro", zero_division=0)
        assert overall[name] == pytest.approx(expected, **EXACT)
    labels = overall["confusion_matrix"]["labels"]
    assert labels == ["cat", "dog", "eel", "fox"]
    assert overall["confusion_matrix"]["matrix"] == (
        metrics.confusion_matrix(truth, predicted, labels=labels).tolist()
    )
    assert overall["roc_auc"] is None and overall["roc_curve"] is None


def test_a_score_that_is_not_a_probability_is_refused():
    with pytest.raises(ValueError, match="probability"):
        evaluate("classification", [0, 1], [0, 1], [0.2, 1.7])


def test_regression_equals_scikit_learn():
    rng = np.random.default_rng(2)
    truth = rng.normal(100, 20, 3000)
    truth[5] = 0.0  # MAPE's epsilon
    predicted = truth + rng.normal(0, 5, 3000)
    predicted[7] = np.nan
    group = rng.choice(["a", "b"], 3000)
    result = evaluate("regression", truth, predicted, segments={"group": group})
    kept = ~np.isnan(predicted)
    overall = result["overall"]
    assert result["missing"] == {"label": 0, "prediction": 1} and result["rows"] == 2999
    t, p = truth[kept], predicted[kept]
    assert overall["mae"] == pytest.approx(metrics.mean_absolute_error(t, p), **EXACT)
    assert overall["rmse"] == pytest.approx(metrics.root_mean_squared_error(t, p), **EXACT)
    assert overall["r2"] == pytest.approx(metrics.r2_score(t, p), **EXACT)
    assert overall["mape"] == pytest.approx(metrics.mean_absolute_percentage_error(t, p), **EXACT)
    assert result["summary"] == {key: overall[key] for key in ("mae", "rmse", "r2", "mape")}
    for row in result["segments"]["group"]:
        rows = group[kept] == row["value"]
        assert row["r2"] == pytest.approx(metrics.r2_score(t[rows], p[rows]), **EXACT)


def test_regression_on_a_constant_label():
    assert evaluate("regression", [3.0, 3.0], [3.0, 3.0])["overall"]["r2"] == 1.0
    assert evaluate("regression", [3.0, 3.0], [3.0, 4.0])["overall"]["r2"] == 0.0
    empty = evaluate("regression", [np.nan], [1.0])
    assert empty["rows"] == 0 and empty["summary"]["mae"] is None


def test_unknown_task():
    with pytest.raises(ValueError, match="classification or regression"):
        evaluate("ranking", [1], [1])

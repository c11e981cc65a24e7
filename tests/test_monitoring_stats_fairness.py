"""Group fairness equals fairlearn's MetricFrame and its difference and ratio functions, to 1e-9,
for each attribute and the intersection; small, empty and missing groups reported, not judged."""

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as fm
from sklearn.metrics import accuracy_score, mean_absolute_error

from monitoring.stats.fairness import evaluate

EXACT = {"abs": 1e-9, "rel": 1e-9}


@pytest.fixture
def people():
    rng = np.random.default_rng(13)
    n = 6000
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    truth = rng.integers(0, 2, n)
    # A model that says yes less often to F: a demographic parity gap to find.
    yes = rng.random(n) < np.where(sex == "F", 0.35, 0.55) + 0.2 * truth
    return pd.DataFrame({"sex": sex, "race": race, "truth": truth, "predicted": yes.astype(int)})


def frame(people, columns):
    return fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "tpr": fm.true_positive_rate,
            "fpr": fm.false_positive_rate,
            "accuracy": accuracy_score,
            "count": fm.count,
        },
        y_true=people["truth"],
        y_pred=people["predicted"],
        sensitive_features=people[columns],
    )


def test_attributes_and_their_intersection_equal_fairlearn(people):
    result = evaluate(
        "classification",
        people["truth"],
        people["predicted"],
        {"sex": people["sex"], "race": people["race"]},
        min_group_size=1,
    )
    names = [attribute["name"] for attribute in result["attributes"]]
    assert names == ["sex", "race", "sex × race"]
    for attribute in result["attributes"]:
        columns = attribute["columns"]
        expected = frame(people, columns)
        for group in attribute["groups"]:
            key = tuple(group["value"].split(" × ")) if len(columns) > 1 else group["value"]
            row = expected.by_group.loc[key]
            assert group["count"] == row["count"] and not group["too_small"]
            for metric in ("selection_rate", "tpr", "fpr", "accuracy"):
                assert group[metric] == pytest.approx(row[metric], **EXACT), metric
        features = people[columns]
        args = (people["truth"], people["predicted"])
        dp_ratio = fm.demographic_parity_ratio(*args, sensitive_features=features)
        assert attribute["demographic_parity_difference"] == pytest.approx(
            fm.demographic_parity_difference(*args, sensitive_features=features), **EXACT
        )
        assert attribute["demographic_parity_ratio"] == pytest.approx(dp_ratio, **EXACT)
        assert attribute["equalized_odds_difference"] == pytest.approx(
            fm.equalized_odds_difference(*args, sensitive_features=features), **EXACT
        )
        assert attribute["equalized_odds_ratio"] == pytest.approx(
            fm.equalized_odds_ratio(*args, sensitive_features=features), **EXACT
        )
        assert attribute["disparate_impact_ratio"] == attribute["demographic_parity_ratio"]
        assert attribute["four_fifths"] == (dp_ratio >= 0.8)
    summary = result["summary"]
    attributes = result["attributes"]
    assert summary["min_disparate_impact_ratio"] == min(
        a["disparate_impact_ratio"] for a in attributes
    )
    assert summary["max_equalized_odds_difference"] == max(
        a["equalized_odds_difference"] for a in attributes
    )
    assert summary["max_demographic_parity_difference"] == max(
        a["demographic_parity_difference"] for a in attributes
    )


def test_small_groups_are_reported_not_judged(people):
    people = people.copy()
    people.loc[:9, "race"] = "tiny"
    result = evaluate(
        "classification",
        people["truth"],
        people["predicted"],
        {"race": people["race"]},
        min_group_size=30,
    )
    (race,) = result["attributes"]
    tiny = next(group for group in race["groups"] if group["value"] == "tiny")
    assert tiny["count"] == 10 and tiny["too_small"] and tiny["selection_rate"] is not None
    judged = people[people["race"] != "tiny"]
    assert race["demographic_parity_difference"] == pytest.approx(
        fm.demographic_parity_difference(
            judged["truth"], judged["predicted"], sensitive_features=judged["race"]
        ),
        **EXACT,
    )


def test_empty_and_missing_groups(people):
    race = pd.Series(pd.Categorical(people["race"], categories=["a", "b", "c", "d"]))
    race[:40] = np.nan
    result = evaluate(
        "classification", people["truth"], people["predicted"], {"race": race}, min_group_size=1
    )
    groups = {group["value"]: group for group in result["attributes"][0]["groups"]}
    assert groups["d"]["count"] == 0 and groups["d"]["too_small"]
    assert groups["d"]["selection_rate"] is None
    assert groups["(missing)"]["count"] == 40 and not groups["(missing)"]["too_small"]


def test_missing_labels_and_predictions_are_skipped(people):
    truth = people["truth"].astype(float)
    truth[:25] = np.nan
    predicted = people["predicted"].astype(object)
    predicted[25:30] = None
    result = evaluate("classification", truth, predicted, {"sex": people["sex"]})
    assert result["missing"] == {"label": 25, "prediction": 5}
    assert result["rows"] == len(people) - 30
    kept = people.iloc[30:]
    assert result["attributes"][0]["demographic_parity_difference"] == pytest.approx(
        fm.demographic_parity_difference(
            kept["truth"], kept["predicted"], sensitive_features=kept["sex"]
        ),
        **EXACT,
    )


def test_a_group_without_positives_has_no_tpr():
    truth = np.r_[np.zeros(40, int), np.r_[np.zeros(20, int), np.ones(20, int)]]
    predicted = np.r_[np.r_[np.zeros(30, int), np.ones(10, int)], np.ones(40, int)]
    group = np.r_[["x"] * 40, ["y"] * 40]
    result = evaluate("classification", truth, predicted, {"g": group})
    (attribute,) = result["attributes"]
    x = attribute["groups"][0]
    assert x["tpr"] is None and x["fpr"] == 0.25
    # Only FPR is defined for both groups: 1.0 for y against 0.25 for x.
    assert attribute["equalized_odds_difference"] == pytest.approx(0.75, **EXACT)
    assert attribute["equalized_odds_ratio"] == pytest.approx(0.25, **EXACT)


def test_one_class_only_and_a_single_group():
    result = evaluate("classification", [0] * 50, [0] * 50, {"g": ["a"] * 50})
    (attribute,) = result["attributes"]
    assert attribute["groups"][0]["selection_rate"] == 0.0
    assert attribute["demographic_parity_difference"] is None
    assert attribute["four_fifths"] is None
    assert result["summary"]["min_disparate_impact_ratio"] is None


def test_regression_error_per_group():
    rng = np.random.default_rng(4)
    truth = rng.normal(0, 1, 500)
    predicted = truth + rng.normal(0, 1, 500)
    group = rng.choice(["p", "q"], 500)
    result = evaluate("regression", truth, predicted, {"g": group})
    (attribute,) = result["attributes"]
    expected = fm.MetricFrame(
        metrics=mean_absolute_error, y_true=truth, y_pred=predicted, sensitive_features=group
    )
    for row in attribute["groups"]:
        assert row["error"] == pytest.approx(expected.by_group[row["value"]], **EXACT)
    assert attribute["error_difference"] == pytest.approx(
        expected.difference(method="between_groups"), **EXACT
    )
    assert result["summary"] == {"max_error_difference": attribute["error_difference"]}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="more"):
        evaluate("classification", ["a", "b", "c"], ["a", "b", "c"], {"g": [1, 1, 1]})
    with pytest.raises(ValueError, match="'g' must have one value per row"):
        evaluate("classification", [0, 1], [0, 1], {"g": [1]})

"""docs/monitoring.md says what the code does: every setting with its default, and the two
places where Vetted answers differently from fairlearn, checked against fairlearn itself."""

import re
from pathlib import Path

import numpy as np
from fairlearn import metrics as fm

from monitoring.stats.fairness import evaluate
from monitoring.stats.options import DEFAULTS

DOC = Path(__file__).resolve().parent.parent / "docs" / "monitoring.md"


def test_the_defaults_table_lists_every_setting_with_its_default():
    rows = re.findall(r"^\| `(\w+)` \| `?([\w.]+)`? \|", DOC.read_text(), re.M)

    assert [key for key, _ in rows] == list(DEFAULTS)
    for key, default in rows:
        assert str(DEFAULTS[key]) == default or float(default) == DEFAULTS[key], key


def test_a_rate_without_a_denominator_is_null_where_fairlearn_says_0():
    truth = np.r_[np.zeros(40, int), np.zeros(20, int), np.ones(20, int)]
    predicted = np.r_[np.zeros(30, int), np.ones(10, int), np.ones(40, int)]
    group = np.array(["x"] * 40 + ["y"] * 40)

    (attribute,) = evaluate("classification", truth, predicted, {"g": group})["attributes"]

    x = attribute["groups"][0]
    assert fm.true_positive_rate(truth[:40], predicted[:40]) == 0.0
    assert x["value"] == "x" and x["tpr"] is None
    # fairlearn's gap counts x's TPR as 0 against y's 1.0; Vetted's takes FPR alone (1 − 0.25).
    fairlearn_gap = fm.equalized_odds_difference(truth, predicted, sensitive_features=group)
    assert fairlearn_gap == 1.0 and attribute["equalized_odds_difference"] == 0.75


def test_one_judged_group_has_no_differences_where_fairlearn_says_0():
    truth = np.r_[np.zeros(25, int), np.ones(25, int), [0, 1]]
    predicted = np.r_[np.zeros(20, int), np.ones(30, int), [1, 1]]
    group = np.array(["big"] * 50 + ["tiny"] * 2)  # "tiny" is under min_group_size (30)

    (attribute,) = evaluate("classification", truth, predicted, {"g": group})["attributes"]

    big = truth[:50], predicted[:50]
    assert fm.demographic_parity_difference(*big, sensitive_features=group[:50]) == 0.0
    assert fm.demographic_parity_ratio(*big, sensitive_features=group[:50]) == 1.0
    assert attribute["demographic_parity_difference"] is None
    assert attribute["demographic_parity_ratio"] is None
    assert attribute["equalized_odds_difference"] is None and attribute["four_fifths"] is None

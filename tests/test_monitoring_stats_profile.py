"""The reference profile and the settings: quantile bins that agree with NumPy's histogram on
the same edges, chunk boundaries that change nothing, missing values counted, bad settings named."""

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from monitoring.stats.options import DEFAULTS, merged
from monitoring.stats.profile import build_profile

EXACT = {"abs": 1e-9, "rel": 1e-9}


def chunks(frame: pd.DataFrame, size: int):
    return (frame.iloc[start : start + size] for start in range(0, len(frame), size))


@pytest.fixture
def reference():
    rng = np.random.default_rng(7)
    n = 5_000
    age = rng.normal(40, 12, n)
    age[rng.choice(n, 50, replace=False)] = np.nan
    city = rng.choice(["paris", "lyon", "nice"], n, p=[0.5, 0.3, 0.2]).astype(object)
    city[rng.choice(n, 20, replace=False)] = None
    return pd.DataFrame(
        {"age": age, "city": city, "flat": np.full(n, 3.0), "empty": np.full(n, np.nan)}
    )


def test_numeric_columns_get_quantile_bins_counts_and_moments(reference):
    profile, sorted_columns = build_profile(
        chunks(reference, 700), ["age", "flat", "empty"], ["city"], bins=10
    )
    age = reference["age"].dropna().to_numpy()
    column = profile["columns"]["age"]
    assert profile["rows"] == len(reference)
    assert column["missing"] == 50 and column["count"] == age.size
    assert column["edges"] == pytest.approx(np.quantile(age, np.linspace(0, 1, 11)), **EXACT)
    # Bins are closed on the right, the first also on the left.
    expected = [
        int(((age > low) & (age <= high)).sum()) + (int((age == low).sum()) if i == 0 else 0)
        for i, (low, high) in enumerate(pairwise(column["edges"]))
    ]
    assert column["counts"] == expected and sum(column["counts"]) == age.size
    assert column["mean"] == pytest.approx(age.mean(), **EXACT)
    assert column["std"] == pytest.approx(age.std(), **EXACT)
    assert (column["min"], column["max"]) == (age.min(), age.max())
    np.testing.assert_array_equal(sorted_columns["age"], np.sort(age))


def test_chunk_size_changes_nothing(reference):
    one = build_profile([reference], ["age"], ["city"])
    many = build_profile(chunks(reference, 333), ["age"], ["city"])
    assert one[0] == many[0]
    np.testing.assert_array_equal(one[1]["age"], many[1]["age"])


def test_categories_counted_with_missing_values(reference):
    profile, _ = build_profile(chunks(reference, 1000), [], ["city"])
    column = profile["columns"]["city"]
    counts = reference["city"].value_counts()
    assert column["missing"] == 20
    assert dict(zip(column["categories"], column["counts"], strict=True)) == counts.to_dict()


def test_constant_and_all_missing_columns(reference):
    profile, sorted_columns = build_profile([reference], ["flat", "empty"], [])
    flat, empty = profile["columns"]["flat"], profile["columns"]["empty"]
    assert flat["edges"] == [3.0, 3.0] and flat["counts"] == [len(reference)]
    assert flat["std"] == 0.0
    assert empty["missing"] == len(reference) and empty["count"] == 0
    assert empty["edges"] == [] and empty["counts"] == [] and empty["mean"] is None
    assert sorted_columns["empty"].size == 0


def test_integral_floats_and_integers_name_the_same_category():
    first = pd.DataFrame({"code": [1, 2, 2]})
    second = pd.DataFrame({"code": [2.0, np.nan, 10.0]})
    profile, _ = build_profile([first, second], [], ["code"])
    column = profile["columns"]["code"]
    assert column["categories"] == ["1", "2", "10"] and column["counts"] == [1, 3, 1]
    assert column["missing"] == 1


def test_a_missing_column_is_named():
    with pytest.raises(ValueError, match="'income'"):
        build_profile([pd.DataFrame({"age": [1.0]})], ["income"], [])


def test_settings_merge_over_the_defaults():
    values = merged({"alpha": 0.01, "psi_bins": 20.0, "numeric_method": "ks"})
    assert values == {**DEFAULTS, "alpha": 0.01, "psi_bins": 20, "numeric_method": "ks"}
    assert merged({}) == DEFAULTS


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"alpah": 0.1}, "unknown setting 'alpah'"),
        ({"alpha": 0}, "alpha must be a number above 0"),
        ({"alpha": "0.1"}, "alpha must be a number"),
        ({"psi_bins": 2.5}, "psi_bins must be a whole number"),
        ({"psi_threshold": True}, "psi_threshold must be a number"),
        ({"psi_threshold": float("nan")}, "psi_threshold must be a number of at least"),
        ({"numeric_method": "t-test"}, "numeric_method must be one of auto, ks, wasserstein"),
        ({"exact_max_rows": 10}, "exact_max_rows must be a whole number of at least 10001"),
        ([], "must be an object"),
    ],
)
def test_bad_settings_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        merged(values)

"""Drift equals SciPy's tests on the same data, to 1e-9: KS (exact and asymptotic p-values,
also when the current column is too big to keep and is only counted), chi-squared, Wasserstein,
Jensen-Shannon, Benjamini-Hochberg; PSI on the reference's quantile bins; and the edges:
constant feature, all-missing column, unseen category, chunk boundaries."""

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from scipy import spatial, stats

from monitoring.stats.drift import compare, psi
from monitoring.stats.profile import build_profile

EXACT = {"abs": 1e-9, "rel": 1e-9}


def chunks(frame: pd.DataFrame, size: int):
    return (frame.iloc[start : start + size] for start in range(0, len(frame), size))


def run(reference, current, numeric, categorical, options=None, size=1000):
    profile, sorted_columns = build_profile(chunks(reference, size), numeric, categorical)
    result = compare(profile, sorted_columns.__getitem__, chunks(current, size), options or {})
    return result, {feature["name"]: feature for feature in result["features"]}


def sample(n, seed, shift=0.0, cities=("paris", "lyon", "nice")):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, n).round(1),  # ties on purpose
            "income": rng.lognormal(10, 1 + shift / 50, n),
            "stable": rng.normal(0, 1, n),
            "city": rng.choice(cities, n),
        }
    )


def test_small_samples_use_ks_and_chi2_with_benjamini_hochberg():
    reference, current = sample(900, 1), sample(700, 2, shift=3, cities=("paris", "lyon", "rome"))
    result, features = run(reference, current, ["age", "income", "stable"], ["city"])
    for name in ("age", "income", "stable"):
        expected = stats.ks_2samp(reference[name], current[name])
        assert features[name]["method"] == "ks"
        assert features[name]["ks_statistic"] == pytest.approx(expected.statistic, **EXACT)
        assert features[name]["ks_pvalue"] == pytest.approx(expected.pvalue, **EXACT)
        assert "wasserstein_over_ref_std" not in features[name]
    city = features["city"]
    reference_counts = reference["city"].value_counts()
    current_counts = current["city"].value_counts()
    table = np.array(
        [
            [reference_counts.get(c, 0) for c in ["lyon", "nice", "paris"]] + [0],
            [current_counts.get(c, 0) for c in ["lyon", "nice", "paris"]]
            + [current_counts["rome"]],
        ]
    )
    expected = stats.chi2_contingency(table, correction=False)
    assert city["method"] == "chi2" and city["unseen_categories"] == current_counts["rome"]
    assert city["chi2_statistic"] == pytest.approx(expected.statistic, **EXACT)
    assert city["chi2_pvalue"] == pytest.approx(expected.pvalue, **EXACT)
    order = ["age", "income", "stable", "city"]
    raw = [features[n]["ks_pvalue"] if n != "city" else city["chi2_pvalue"] for n in order]
    adjusted = stats.false_discovery_control(raw, method="bh")
    for name, value in zip(order, adjusted, strict=True):
        assert features[name]["pvalue_adjusted"] == pytest.approx(value, **EXACT)
        assert features[name]["drifted"] == (value < 0.05)
    assert features["age"]["drifted"] and features["city"]["drifted"]
    assert not features["stable"]["drifted"]
    drifted = [f["name"] for f in result["features"] if f["drifted"]]
    assert [f["name"] for f in result["features"]][: len(drifted)] == drifted
    assert result["share_drifted"] == pytest.approx(len(drifted) / 4, **EXACT)
    assert result["drifted"] == (len(drifted) / 4 >= 0.5)
    assert result["summary"]["max_psi"] == max(f["psi"] for f in result["features"])


def test_psi_on_reference_quantile_bins_with_the_out_of_range_bin():
    reference, current = sample(2000, 3), sample(1500, 4, shift=25)
    _, features = run(reference, current, ["age"], [], {"numeric_method": "ks"})
    age = features["age"]
    edges = np.array(age["reference_hist"]["edges"])
    np.testing.assert_allclose(edges, np.quantile(reference["age"], np.linspace(0, 1, 11)))
    values = current["age"].to_numpy()
    inside = (values >= edges[0]) & (values <= edges[-1])
    counts = [int(((values > lo) & (values <= hi)).sum()) for lo, hi in pairwise(edges)]
    counts[0] += int((values == edges[0]).sum())
    assert age["current_hist"]["counts"] == counts
    assert age["current_hist"]["out_of_range"] == int((~inside).sum()) > 0
    expected_share = np.maximum(np.r_[age["reference_hist"]["counts"], 0] / 2000, 1e-4)
    actual_share = np.maximum(np.r_[counts, (~inside).sum()] / 1500, 1e-4)
    expected = np.sum((actual_share - expected_share) * np.log(actual_share / expected_share))
    assert age["psi"] == pytest.approx(expected, **EXACT)
    assert psi(np.array([5, 5]), np.array([5, 5]), 1e-4) == 0.0


def test_large_samples_use_wasserstein_and_jensen_shannon():
    reference, current = sample(5000, 5), sample(4000, 6, shift=2, cities=("paris", "nice", "rome"))
    _, features = run(reference, current, ["age", "income"], ["city"])
    for name in ("age", "income"):
        expected = stats.wasserstein_distance(reference[name], current[name])
        assert features[name]["method"] == "wasserstein"
        assert features[name]["wasserstein_over_ref_std"] == pytest.approx(
            expected / np.std(reference[name]), **EXACT
        )
        assert features[name]["approximation"] == "" and features[name]["pvalue_adjusted"] is None
    assert features["age"]["drifted"]  # 2 / 10 standard deviations
    categories = ["lyon", "nice", "paris"]
    reference_shares = reference["city"].value_counts().reindex(categories, fill_value=0)
    current_counts = current["city"].value_counts()
    current_shares = np.r_[current_counts.reindex(categories, fill_value=0), current_counts["rome"]]
    expected = spatial.distance.jensenshannon(
        np.r_[reference_shares / 5000, 0], current_shares / 4000, base=2
    )
    assert features["city"]["method"] == "jensen_shannon"
    assert features["city"]["jensen_shannon"] == pytest.approx(expected, **EXACT)
    assert features["city"]["drifted"] == (expected >= 0.1)


def test_ks_stays_exact_when_the_current_column_is_only_counted():
    reference, current = sample(8000, 7), sample(30_000, 8, shift=0.3)
    options = {"numeric_method": "ks", "exact_max_rows": 10_001}
    _, features = run(reference, current, ["age", "income", "stable"], [], options, size=4000)
    for name in ("age", "income", "stable"):
        expected = stats.ks_2samp(reference[name], current[name])
        assert features[name]["ks_statistic"] == pytest.approx(expected.statistic, **EXACT)
        assert features[name]["ks_pvalue"] == pytest.approx(expected.pvalue, **EXACT)
        assert features[name]["approximation"] == ""


def test_counted_wasserstein_is_named_an_approximation_and_is_close():
    reference, current = sample(20_000, 9), sample(50_000, 10, shift=1)
    current.loc[:99, "income"] = 1e7  # beyond the reference's range: the exact tail
    options = {"exact_max_rows": 10_001}
    _, features = run(reference, current, ["age", "income"], [], options, size=7000)
    for name in ("age", "income"):
        exact = stats.wasserstein_distance(reference[name], current[name])
        feature = features[name]
        assert "approximation" in feature and "Wasserstein" in feature["approximation"]
        assert feature["wasserstein_over_ref_std"] == pytest.approx(
            exact / np.std(reference[name]), rel=1e-3
        )


def test_chunk_boundaries_change_nothing():
    reference, current = sample(3000, 11), sample(2500, 12, shift=1)
    one, _ = run(reference, current, ["age", "income"], ["city"], size=10_000)
    many, _ = run(reference, current, ["age", "income"], ["city"], size=97)
    assert one == many


def test_constant_all_missing_and_unseen():
    rng = np.random.default_rng(13)
    reference = pd.DataFrame(
        {
            "flat": np.full(500, 2.0),
            "empty": np.full(500, np.nan),
            "colour": rng.choice(["red", "blue"], 500).astype(object),
        }
    )
    current = pd.DataFrame(
        {
            "flat": np.r_[np.full(390, 2.0), np.full(10, 3.0)],
            "empty": np.r_[np.full(399, np.nan), 1.0],
            "colour": np.r_[rng.choice(["red", "green"], 380), [None] * 20].astype(object),
        }
    )
    result, features = run(reference, current, ["flat", "empty"], ["colour"])
    flat = features["flat"]
    assert flat["reference_hist"]["edges"] == [2.0, 2.0]
    assert flat["current_hist"] == {"counts": [390], "out_of_range": 10}
    expected = stats.ks_2samp(reference["flat"], current["flat"])
    assert flat["ks_statistic"] == pytest.approx(expected.statistic, **EXACT)
    empty = features["empty"]
    assert empty["psi"] is None and empty["ks_statistic"] is None and not empty["drifted"]
    assert empty["missing_reference"] == 500 and empty["missing_current"] == 399
    colour = features["colour"]
    assert colour["unseen_categories"] == (current["colour"] == "green").sum()
    assert colour["missing_current"] == 20 and colour["drifted"]
    # 10 new values in 400 shift the constant's PSI, not its KS test: only colour drifted,
    # out of two judged features (the empty column has nothing to compare).
    assert flat["psi"] > 0.1 and not flat["drifted"]
    assert result["summary"]["drifted_features"] == 1
    assert result["share_drifted"] == 0.5


def test_prediction_drift_is_reported_apart():
    reference, current = sample(900, 14), sample(800, 15, shift=5)
    reference["score"] = reference["age"] / 100
    current["predicted"] = current["age"] / 100
    options = {"prediction_column": "predicted", "prediction_reference_column": "score"}
    result, features = run(reference, current, ["stable", "score"], [], options)
    assert set(features) == {"stable"}
    prediction = result["prediction"]
    expected = stats.ks_2samp(reference["score"], current["predicted"])
    assert prediction["name"] == "predicted"
    assert prediction["ks_pvalue"] == pytest.approx(expected.pvalue, **EXACT)
    assert prediction["pvalue_adjusted"] == pytest.approx(expected.pvalue, **EXACT)
    assert prediction["drifted"] and result["summary"]["prediction_psi"] == prediction["psi"]


def test_bad_input_is_named():
    reference, current = sample(100, 16), sample(100, 17)
    with pytest.raises(ValueError, match="'age'"):
        run(reference, current.drop(columns="age"), ["age"], [])
    with pytest.raises(ValueError, match="alpha"):
        run(reference, current, ["age"], [], {"alpha": 3})
    with pytest.raises(ValueError, match="'nope'"):
        run(reference, current, ["age"], [], {"prediction_column": "nope"})

"""The figure builders alone: every figure is valid Plotly, missing numbers are left out rather
than drawn as zero, bands sit on the rule's bad side, and hundreds of features stay small."""

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest

from monitoring import figures

from . import monitoring_pages_factories as make

START = datetime(2026, 11, 1, tzinfo=UTC)


def valid(figure: dict) -> dict:
    go.Figure(figure)  # plotly.py's validation: raises on anything plotly.js would not know
    json.dumps(figure, allow_nan=False)  # and it travels as strict JSON
    return figure


@cache
def drift_metrics(features: int) -> dict:
    return make.drift_metrics(features=features)


def drift_run(day: int, features: int = 45, version: int = 1):
    return SimpleNamespace(
        pk=day,
        finished_at=START + timedelta(days=day),
        dataset=SimpleNamespace(observed_at=START + timedelta(days=day)),
        version=SimpleNamespace(number=version),
        metrics=drift_metrics(features),
    )


def test_a_timeline_leaves_out_missing_values_and_draws_one_line_per_version():
    points = [
        figures.Point(1, 1, START, {"rmse": 2.0}),
        figures.Point(2, 1, START + timedelta(days=1), {"rmse": None}),
        figures.Point(3, 2, START + timedelta(days=2), {"rmse": 1.5}),
        figures.Point(4, 1, START + timedelta(days=3), {"mae": 1.0}),
    ]
    figure = valid(figures.metric_timeline(points, "rmse"))
    assert [(t["name"], t["y"], t["customdata"]) for t in figure["data"]] == [
        ("v1", [2.0], [1]),
        ("v2", [1.5], [3]),
    ]


def test_bands_of_a_lower_is_better_rule_sit_above_its_levels():
    points = [figures.Point(1, 1, START, {"rmse": 2.0})]
    rule = figures.Rule("<=", warning=3.0, critical=4.0)
    figure = valid(figures.metric_timeline(points, "rmse", rules=[rule]))
    critical, warning = figure["layout"]["shapes"]
    assert (critical["y0"], critical["y1"]) == (4.0, figures.FAR)
    assert (warning["y0"], warning["y1"]) == (3.0, 4.0)
    low, high = figure["layout"]["yaxis"]["range"]
    assert low < 2.0 and 4.0 < high < 5.0  # the axis shows the data and the levels, not FAR


def test_a_rule_with_only_a_warning_level_has_one_band():
    rule = figures.Rule(">=", warning=0.9, critical=None)
    figure = valid(figures.metric_timeline([], "f1", rules=[rule]))
    (band,) = figure["layout"]["shapes"]
    assert (band["y0"], band["y1"]) == (-figures.FAR, 0.9)


def test_alert_markers_are_coloured_by_level():
    alerts = [
        figures.Marker(START, 0.7, "critical", "too low"),
        figures.Marker(START, 0.84, "warning", "low"),
        figures.Marker(START, None, "warning", "no value, not marked"),
    ]
    figure = valid(figures.metric_timeline([], "roc_auc", alerts=alerts))
    (markers,) = figure["data"]
    assert markers["y"] == [0.7, 0.84]
    assert markers["marker"]["color"] == [figures.RED, figures.AMBER]


def test_points_of_runs_skip_the_unfinished():
    data = SimpleNamespace(observed_at=START - timedelta(days=3))
    done = SimpleNamespace(
        pk=1, version=SimpleNamespace(number=2), dataset=data, finished_at=START, metrics={}
    )
    running = SimpleNamespace(pk=2, version=done.version, dataset=data, finished_at=None)
    # A point stands at the time of the data it judged, not when its run finished.
    assert figures.points_of([done, running]) == [figures.Point(1, 2, data.observed_at, {})]


def test_the_heatmap_of_hundreds_of_features_keeps_the_top_twenty_and_stays_small():
    runs = [drift_run(day, features=600) for day in range(30)]
    figure = valid(figures.drift_heatmap(figures.drift_columns_of(runs)))
    (heatmap,) = figure["data"]
    by_psi = sorted(drift_metrics(600)["features"], key=lambda feature: -feature["psi"])[:20]
    assert heatmap["y"] == [feature["name"] for feature in by_psi] and figures.TOP_FEATURES == 20
    assert len(heatmap["x"]) == 30 and heatmap["z"][0] == [by_psi[0]["psi"]] * 30
    assert [row[0] for row in heatmap["text"]] == [
        "drifted" if feature["drifted"] else "" for feature in by_psi
    ]
    assert len(json.dumps(figure)) < 40_000


def test_the_heatmap_leaves_a_cell_empty_where_a_run_lacks_the_feature():
    wide, narrow = drift_run(0, features=45), drift_run(1, features=10)
    # Sorted by time, whatever the order given.
    figure = valid(figures.drift_heatmap(figures.drift_columns_of([narrow, wide])))
    rows = dict(zip(figure["data"][0]["y"], figure["data"][0]["z"], strict=True))
    psi = {feature["name"]: feature["psi"] for feature in wide.metrics["features"]}
    narrow_psi = {feature["name"]: feature["psi"] for feature in narrow.metrics["features"]}
    for name, row in rows.items():
        assert row == [psi[name], narrow_psi.get(name)]
    assert any(row[1] is None for row in rows.values())


def test_a_numeric_distribution_names_its_bins_and_the_out_of_range_cell():
    feature = next(f for f in drift_metrics(45)["features"] if f["name"] == "feature_001")
    figure = valid(figures.feature_distribution(feature))
    reference, current = figure["data"]
    edges = feature["reference_hist"]["edges"]
    assert len(reference["x"]) == len(edges) and reference["x"][-1] == "out of range"
    assert reference["x"][0] == f"{edges[0]:.4g} – {edges[1]:.4g}"
    assert reference["customdata"] == [*feature["reference_hist"]["counts"], 0]
    beyond = feature["current_hist"]["out_of_range"]
    assert beyond >= 2  # the two 50.0s, and shifted values past the reference's largest
    assert current["customdata"] == [*feature["current_hist"]["counts"], beyond]
    assert current["y"][-1] == pytest.approx(beyond / 300)


def test_categories_the_reference_never_had_keep_a_bar_apart_from_a_category_of_that_name():
    import pandas as pd

    from monitoring.stats import drift, profile

    named = "not in the reference"
    reference = pd.DataFrame({"colour": ["red", named, "red", "blue"] * 25})
    current = pd.DataFrame({"colour": ["red", named, "green", "green"] * 25})
    profiled, columns = profile.build_profile([reference], [], ["colour"])
    feature = drift.compare(profiled, columns.__getitem__, [current], {})["features"][0]
    reference_bars, current_bars = valid(figures.feature_distribution(feature))["data"]
    assert reference_bars["x"] == [
        *map(figures.plain, feature["reference_hist"]["categories"]),
        f"[{named}]",
    ]
    assert len(set(reference_bars["x"])) == len(reference_bars["x"])
    assert current_bars["customdata"][-1] == 50  # the green ones
    assert current_bars["customdata"][reference_bars["x"].index(named)] == 25


def test_fairness_bars_for_regression_show_the_error_without_a_four_fifths_band():
    attribute = {
        "name": "region",
        "groups": [
            {"value": "north", "count": 50, "error": 1.2, "too_small": False},
            {"value": "south", "count": 40, "error": 2.5, "too_small": False},
        ],
    }
    figure = valid(figures.fairness_bars(attribute, task="regression"))
    assert figure["data"][0]["y"] == [1.2, 2.5]
    assert figure["layout"]["shapes"] == []
    assert figure["layout"]["title"]["text"] == "region"


def test_performance_figures_are_valid_and_carry_the_stored_numbers():
    metrics = make.classification_metrics()
    overall = metrics["overall"]
    baseline = make.classification_metrics(seed=3)["overall"]
    matrix = valid(figures.confusion_matrix(overall))["data"][0]
    assert matrix["z"] == overall["confusion_matrix"]["matrix"] and matrix["x"] == ["0", "1"]
    roc = valid(figures.roc_curve(overall, baseline))
    assert [trace["name"].split(" (")[0] for trace in roc["data"]] == [
        "chance",
        "production",
        "this version",
    ]
    assert roc["data"][2]["name"] == f"this version (AUC {overall['roc_auc']:.4g})"
    calibration = valid(figures.calibration_curve(overall))
    assert calibration["data"][1]["y"] == overall["calibration"]["fraction_positive"]


def test_a_regression_run_has_no_curves_to_draw():
    overall = {"mae": 1.0, "rmse": 2.0, "r2": 0.5, "mape": 0.1}
    assert [t["name"] for t in valid(figures.roc_curve(overall))["data"]] == ["chance"]


def test_the_comparison_pairs_each_metric_with_production():
    figure = valid(
        figures.version_comparison(
            {"f1": 0.8, "roc_auc": 0.9, "log_loss": None},
            {"f1": 0.75, "roc_auc": 0.92, "log_loss": None},
            version="v3",
            baseline="v2 (production)",
        )
    )
    production, candidate = figure["data"]
    assert candidate["x"] == ["f1", "roc_auc"] and candidate["y"] == [0.8, 0.9]
    assert production["name"] == "v2 (production)" and production["y"] == [0.75, 0.92]


def test_metrics_across_versions_skip_versions_without_the_metric():
    versions = [
        SimpleNamespace(number=1, metrics={"auc": 0.9}, stage="archived"),
        SimpleNamespace(number=2, metrics={}, stage="none"),
        SimpleNamespace(number=3, metrics={"auc": 0.95}, stage="production"),
    ]
    trace = valid(figures.metrics_across_versions(versions, "auc"))["data"][0]
    assert trace["x"] == [1, 3] and trace["y"] == [0.9, 0.95]
    assert trace["text"] == ["v1 · archived", "v3 · production"]


def test_versions_on_the_evaluation_data_are_bars_in_version_order_without_gaps():
    figure = valid(
        figures.metric_by_version(
            [(3, "staging", 0.91), (1, "archived", None), (2, "production", 0.88)], "roc_auc"
        )
    )
    (bars,) = figure["data"]
    assert bars["x"] == ["v2", "v3"] and bars["y"] == [0.88, 0.91]
    assert bars["marker"]["color"] == [figures.ACCENT, "#b5c7c9"]  # production stands out
    assert figure["layout"]["xaxis"]["ticktext"] == ["v2<br>production", "v3<br>staging"]
    assert bars["text"] == ["0.88", "0.91"] and bars["textposition"] == "outside"


def test_versions_whose_metric_is_zero_show_a_zero_on_an_axis_from_zero():
    figure = valid(figures.metric_by_version([(1, "none", 0.0), (2, "production", 0)], "x"))
    assert figure["data"][0]["y"] == [0.0, 0.0] and figure["data"][0]["text"] == ["0", "0"]
    assert figure["layout"]["yaxis"]["rangemode"] == "tozero"
    assert figure["layout"]["xaxis"]["ticktext"] == ["v1<br>no stage", "v2<br>production"]

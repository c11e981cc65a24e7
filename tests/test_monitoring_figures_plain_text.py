"""Names from data (features, categories, groups, attributes, metrics, models) reach a figure
escaped, so plotly.js draws them as the text they are: never its pseudo-HTML (a link, bold,
a line break) nor a hover template's %{...}."""

import html
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from monitoring import figures
from monitoring.digest import _chart
from monitoring.stats import drift, fairness, performance, profile

MARKUP = '<a href="javascript:alert(1)">x</a><b>y</b>'
TEMPLATE = "share %{y} & 'more'"
START = datetime(2026, 11, 1, tzinfo=UTC)
# What the builders write themselves into hover templates: plotly's own markup.
OWN_MARKUP = re.compile(r"<br>|</?extra>")


def drift_with_markup(rows: int = 300, seed: int = 0) -> dict:
    """monitoring.stats.drift where a categorical feature named MARKUP has MARKUP as a value."""
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame(
        {MARKUP: rng.choice([MARKUP, "plain"], rows), "amount": rng.normal(0, 1, rows)}
    )
    current = pd.DataFrame(
        {
            MARKUP: rng.choice([MARKUP, "plain"], rows, p=[0.8, 0.2]),
            "amount": rng.normal(1, 1, rows),
        }
    )
    profiled, columns = profile.build_profile([reference], ["amount"], [MARKUP])
    return drift.compare(profiled, columns.__getitem__, [current], {})


def fairness_with_markup(rows: int = 400, seed: int = 0) -> dict:
    """monitoring.stats.fairness on a protected attribute named MARKUP with a group MARKUP."""
    rng = np.random.default_rng(seed)
    groups = rng.choice([MARKUP, "plain"], rows)
    y_true = rng.integers(0, 2, rows)
    selected = (rng.random(rows) < np.where(groups == MARKUP, 0.2, 0.4)).astype(int)
    return fairness.evaluate("classification", y_true, selected, {MARKUP: groups})


def strings_of(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_of(item)


def assert_drawn_literally(figure: dict, *names: str) -> None:
    """Valid Plotly, no markup or template in any string but the builder's own, and each name
    somewhere in it as plotly.js will decode it."""
    go.Figure(figure)
    texts = list(strings_of(figure))
    for text in texts:
        assert "<" not in OWN_MARKUP.sub("", text), text
        assert not any(name in text for name in names), text  # a %{...} in a name stays text
    decoded = [html.unescape(text) for text in texts]
    for name in names:
        assert any(name in text for text in decoded), name


def test_plain_text_comes_back_whole_once_decoded():
    for text in (MARKUP, TEMPLATE, "a & b", "R²", "<br>"):
        shown = figures.plain(text)
        assert not set("<>\"'%") & set(shown)
        assert html.unescape(shown) == text
    assert figures.plain("income") == "income"
    assert figures.plain(3) == "3"


def test_feature_names_and_categories_in_drift_figures_are_plain_text():
    metrics = drift_with_markup()
    feature = next(f for f in metrics["features"] if f["name"] == MARKUP)
    distribution = figures.feature_distribution(feature)
    assert distribution["data"][0]["x"][:2] == [figures.plain(MARKUP), "plain"]
    assert distribution["layout"]["title"]["text"].startswith(figures.plain(MARKUP) + " · PSI")
    assert_drawn_literally(distribution, MARKUP)

    columns = [
        figures.DriftColumn(
            START + timedelta(days=day),
            1,
            {f["name"]: f["psi"] for f in metrics["features"]},
            {f["name"]: f["drifted"] for f in metrics["features"]},
        )
        for day in range(2)
    ]
    heatmap = figures.drift_heatmap(columns)
    assert figures.plain(MARKUP) in heatmap["data"][0]["y"]
    assert_drawn_literally(heatmap, MARKUP)


def test_attribute_and_group_names_in_fairness_figures_are_plain_text():
    attribute = fairness_with_markup()["attributes"][0]
    assert attribute["name"] == MARKUP
    bars = figures.fairness_bars(attribute)
    assert figures.plain(MARKUP) in bars["data"][0]["x"]
    assert_drawn_literally(bars, MARKUP)
    assert_drawn_literally(figures.fairness_error_rates(attribute), MARKUP)


def test_metric_names_and_labels_are_plain_text_in_legends_titles_and_hover_templates():
    versions = [
        SimpleNamespace(number=n, metrics={TEMPLATE: 0.9, MARKUP: 0.8}, stage="none")
        for n in (1, 2)
    ]
    for metric in (TEMPLATE, MARKUP):
        across = figures.metrics_across_versions(versions, metric)
        assert_drawn_literally(across, metric)
        points = [figures.Point(1, 1, START, {metric: 0.7}), figures.Point(2, 2, START, {})]
        alert = figures.Marker(START, 0.7, "critical", f"{metric} 0.7 < 0.8")
        timeline = figures.metric_timeline(points, metric, alerts=[alert])
        assert_drawn_literally(timeline, metric, f"{metric} 0.7 < 0.8")
        by_version = figures.metric_by_version([(1, "production", 0.7)], metric)
        assert_drawn_literally(by_version, metric)
    comparison = figures.version_comparison(
        {MARKUP: 0.9}, {MARKUP: 0.8}, version=MARKUP, baseline=TEMPLATE
    )
    assert_drawn_literally(comparison, MARKUP, TEMPLATE)

    rng = np.random.default_rng(0)
    y_true = rng.choice([MARKUP, "plain"], 50)
    overall = performance.evaluate("classification", y_true, y_true, None, {})["overall"]
    assert_drawn_literally(figures.confusion_matrix(overall), MARKUP)


def test_the_digest_chart_names_metrics_and_the_model_as_plain_text():
    model = SimpleNamespace(name=MARKUP, monitors=SimpleNamespace(all=list))
    chart = _chart(model, {TEMPLATE: [(START, 0.8), (START + timedelta(days=1), 0.9)]})
    assert chart["data"][0]["name"] == figures.plain(TEMPLATE)
    assert_drawn_literally(chart, MARKUP, TEMPLATE)

"""Plotly figures built in Python from evaluation metrics, as plain figure dicts.

Each function returns `{"data": [...], "layout": {...}}`, what `go.Figure.to_plotly_json()`
gives, built directly: a page draws a dozen of them and plotly.py's validation would cost more
than the page's queries (the tests validate every figure through `go.Figure` instead). The
browser draws them with the plotly.js of the same plotly package (static/monitoring/charts.js);
the e-mail digest may render the same dicts to PNG with kaleido. Inputs are the shapes of
`EvaluationRun.metrics` (docs in monitoring/stats); a missing number (None) is left out of a
chart, never drawn as zero. Every string that comes from data (feature, category, group,
attribute, metric and model names) goes through `plain()` before it reaches a figure.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# The app's palette (static/vetted/app.css), so charts read as part of the page.
TEXT = "#1f2328"
MUTED = "#646b73"
GRID = "#e3e3df"
ACCENT = "#2f5d62"
GREEN = "#1f7a4d"
AMBER = "#8a5a00"
RED = "#a8322d"
BLUE = "#2d5da8"
AMBER_BAND = "rgba(251, 240, 217, 0.7)"
RED_BAND = "rgba(251, 233, 231, 0.8)"
SERIES = [ACCENT, BLUE, AMBER, RED, GREEN, "#6b4fa1", "#8a6d3b", MUTED]
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

TOP_FEATURES = 20  # features in the drift heatmap and on each page of the drift table
FOUR_FIFTHS = 0.8
LEGEND_ROW = 24  # pixels under the plot for a one-line legend
FAR = 1e12  # a band's open end: the axis range is set to the data, so it is never seen


# plotly.js draws its text as pseudo-HTML (<b>, <i>, <br>, <sub>, <span style>, <a href>) and
# fills %{...} in templates; it decodes these entities (numeric ones, not &quot;) when it draws.
_LITERAL = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "%": "&#37;"}
)


def plain(value: object) -> str:
    """A string from data as plotly.js shows it literally in titles, ticks, legends and hover
    text: never as markup or a link, nor as a template's %{...}."""
    return str(value).translate(_LITERAL)


# How a version's stage reads under its bar ("none" is MLflow's word for no stage).
STAGE_NAMES = {
    "none": "no stage",
    "staging": "staging",
    "production": "production",
    "archived": "archived",
}


def _layout(title: str, height: int = 280, legend: bool = True, **extra) -> dict:
    """A quiet layout: no plotly template (it would ship ~10 KB with every figure). A figure
    with a legend is taller by the legend's row, so its plot keeps the same height."""
    layout: dict = {
        "template": {},
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
        "font": {"family": FONT, "size": 12, "color": TEXT},
        "height": height + (LEGEND_ROW if legend else 0),
        "margin": {"l": 56, "r": 16, "t": 40, "b": 44},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "xaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "automargin": True},
        # At the figure's foot, under the x axis' title (placed in the plot's fraction it
        # covered that title); plotly.js widens the bottom margin to the legend's rows.
        "legend": {
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
        },
        "hovermode": "closest",
    }
    if not legend:
        layout["showlegend"] = False
    for key, value in extra.items():
        base = layout.get(key)
        if isinstance(value, dict) and isinstance(base, dict):
            layout[key] = {**base, **value}
        else:
            layout[key] = value
    return layout


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- Metrics across versions (the model page, before any evaluation) ------------------------


def metrics_across_versions(versions: Sequence, metric: str) -> dict:
    """One metric that versions recorded when pushed (ModelVersion.metrics), by version number.

    Versions that did not record it are skipped; a single version is a single point.
    """
    points = [(v, _number(v.metrics.get(metric))) for v in versions]
    points = [(v, value) for v, value in points if value is not None]
    shown = plain(metric)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": shown,
                "x": [v.number for v, _ in points],
                "y": [value for _, value in points],
                "text": [f"v{v.number} · {STAGE_NAMES.get(v.stage, v.stage)}" for v, _ in points],
                "hovertemplate": "%{text}<br>" + shown + " = %{y:.6g}<extra></extra>",
                "line": {"color": ACCENT},
                "marker": {"size": 7},
            }
        ],
        "layout": _layout(
            shown,
            height=220,
            xaxis={
                "title": {"text": "version"},
                "tickmode": "linear",
                "dtick": 1,
                "tickprefix": "v",
            },
            margin={"t": 32, "b": 40},
            legend=False,
        ),
    }


# --- Timelines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A monitor rule on one metric: `op` is ">=" or "<=" (the good side), with its levels."""

    op: str
    warning: float | None
    critical: float | None


@dataclass(frozen=True)
class Marker:
    """An alert to mark on a timeline: when it opened, at which value, how bad."""

    at: datetime
    value: float | None
    level: str  # "warning" | "critical"
    message: str


def _bands(rule: Rule) -> list[dict]:
    """Shaded areas where the metric is critical, and where it is only a warning, on the rule's
    bad side (below the levels for ">=", above them for "<=")."""
    far = -FAR if rule.op in (">=", ">") else FAR
    bands = []
    if rule.critical is not None:
        bands.append((rule.critical, far, RED_BAND))
    if rule.warning is not None:
        bands.append((rule.warning, far if rule.critical is None else rule.critical, AMBER_BAND))
    return [
        {
            "type": "rect",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": min(level, end),
            "y1": max(level, end),
            "fillcolor": colour,
            "line": {"width": 0},
            "layer": "below",
        }
        for level, end, colour in bands
    ]


@dataclass(frozen=True)
class Point:
    """What a timeline needs of one finished run: a page reads only these columns."""

    run_id: int
    version: int  # its number
    at: datetime  # when the data it judged was observed (its newest dataset's observed_at)
    summary: dict  # the run's metrics["summary"]


def points_of(runs: Iterable) -> list[Point]:
    """Timeline points of finished EvaluationRun rows (with their versions and datasets
    loaded), each at the time of its data: a month of batches evaluated in one minute still
    spreads over the month."""
    return [
        Point(run.pk, run.version.number, run.dataset.observed_at, run.metrics.get("summary") or {})
        for run in runs
        if run.finished_at is not None
    ]


def metric_timeline(
    points: Iterable[Point],
    metric: str,
    *,
    rules: Sequence[Rule] = (),
    alerts: Sequence[Marker] = (),
) -> dict:
    """A summary metric of finished runs over the time of their data, one line per version,
    with the rules' warning and critical bands and a marker where each alert's run stands."""
    shown = plain(metric)
    by_version: dict[int, list] = {}
    values: list[float] = []
    for point in points:
        value = _number(point.summary.get(metric))
        if value is None:
            continue
        by_version.setdefault(point.version, []).append((point.at, value, point.run_id))
        values.append(value)
    data = []
    for index, (number, series) in enumerate(sorted(by_version.items())):
        series.sort()
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"v{number}",
                "x": [at.isoformat() for at, _, _ in series],
                "y": [value for _, value, _ in series],
                "customdata": [pk for _, _, pk in series],
                "hovertemplate": f"v{number} · run #%{{customdata}}<br>{shown} = %{{y:.6g}}"
                "<extra></extra>",
                "line": {"color": SERIES[index % len(SERIES)]},
            }
        )
    marked = [alert for alert in alerts if alert.value is not None]
    if marked:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "alerts",
                "x": [alert.at.isoformat() for alert in marked],
                "y": [alert.value for alert in marked],
                "text": [plain(alert.message) for alert in marked],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {
                    "symbol": "x",
                    "size": 11,
                    "color": [RED if a.level == "critical" else AMBER for a in marked],
                },
            }
        )
    shapes = [shape for rule in rules for shape in _bands(rule)]
    levels = [x for rule in rules for x in (rule.warning, rule.critical) if x is not None]
    yaxis: dict = {"title": {"text": shown}}
    if values or levels:  # keep the bands from stretching the axis to their far ends
        low, high = min(values + levels), max(values + levels)
        pad = (high - low) * 0.15 or abs(high) * 0.05 or 0.05
        yaxis["range"] = [low - pad, high + pad]
    return {
        "data": data,
        "layout": _layout(shown, shapes=shapes, yaxis=yaxis, xaxis={"type": "date"}),
    }


def metric_by_version(values: Sequence[tuple[int, str, float | None]], metric: str) -> dict:
    """One metric of each version on the same evaluation data, as (number, stage, value):
    the comparison a new version is judged by, apart from the production timeline. Each bar
    carries its value, so a zero reads as zero rather than as a missing bar, and each version its
    stage under its number."""
    shown = [(number, stage, _number(value)) for number, stage, value in values]
    shown = sorted((item for item in shown if item[2] is not None), key=lambda item: item[0])
    label = plain(metric)
    names = [f"v{number}" for number, _, _ in shown]
    stages = [STAGE_NAMES.get(stage, stage) for _, stage, _ in shown]
    return {
        "data": [
            {
                "type": "bar",
                "x": names,
                "y": [value for _, _, value in shown],
                "customdata": stages,
                "text": [f"{value:.3g}" for _, _, value in shown],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{x} · %{customdata}<br>" + label + " = %{y:.6g}<extra></extra>",
                "marker": {
                    "color": [
                        ACCENT if stage == "production" else "#b5c7c9" for _, stage, _ in shown
                    ]
                },
            }
        ],
        "layout": _layout(
            label,
            height=220,
            legend=False,
            xaxis={
                "type": "category",
                "tickvals": names,
                "ticktext": [f"{n}<br>{stage}" for n, stage in zip(names, stages, strict=True)],
            },
            # All zeros (no feature drifted) would get an axis of -1 to 1 and no bars.
            yaxis={"rangemode": "tozero"},
            margin={"t": 32},
        ),
    }


# --- Drift ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftColumn:
    """What the heatmap needs of one finished drift run: each feature's PSI and verdict."""

    at: datetime
    version: int
    psi: dict[str, float | None]
    drifted: dict[str, bool]


def drift_columns_of(runs: Iterable) -> list[DriftColumn]:
    """Heatmap columns of finished drift EvaluationRun rows (with their versions and datasets
    loaded), each at the time of its data."""
    return [
        DriftColumn(
            run.dataset.observed_at,
            run.version.number,
            {f["name"]: _number(f.get("psi")) for f in run.metrics.get("features", [])},
            {f["name"]: bool(f.get("drifted")) for f in run.metrics.get("features", [])},
        )
        for run in runs
        if run.finished_at is not None
    ]


def top_drifted_names(columns: Sequence[DriftColumn], top: int = TOP_FEATURES) -> list[str]:
    """The features with the highest PSI in any of the runs, highest first."""
    worst: dict[str, float] = {}
    for column in columns:
        for name, psi in column.psi.items():
            if psi is not None:
                worst[name] = max(psi, worst.get(name, psi))
    return sorted(worst, key=lambda name: (-worst[name], name))[:top]


def drift_heatmap(columns: Sequence[DriftColumn], top: int = TOP_FEATURES) -> dict:
    """PSI of the most drifted features (rows) in each drift run (columns, oldest first)."""
    columns = sorted(columns, key=lambda column: column.at)
    names = top_drifted_names(columns, top)
    z = [[column.psi.get(name) for column in columns] for name in names]
    hover = [
        ["drifted" if column.drifted.get(name) else "" for column in columns] for name in names
    ]
    x = [f"{column.at:%Y-%m-%d %H:%M} v{column.version}" for column in columns]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": x,
                "y": [plain(name) for name in names],
                "z": z,
                "text": hover,
                "zmin": 0,
                "colorscale": [[0, "#ffffff"], [0.25, "#fbf0d9"], [1, RED]],
                "colorbar": {"title": {"text": "PSI"}, "thickness": 12},
                "hovertemplate": "%{y} · %{x}<br>PSI = %{z:.4g} %{text}<extra></extra>",
                "xgap": 1,
                "ygap": 1,
            }
        ],
        "layout": _layout(
            f"Drift (PSI) of the {len(names)} most drifted features",
            height=max(220, 60 + 22 * len(names)),
            legend=False,
            yaxis={"autorange": "reversed", "type": "category"},
            xaxis={"type": "category"},
        ),
    }


def feature_distribution(feature: dict) -> dict:
    """A feature's reference and current distributions side by side, as shares per bin or
    category (the counts differ in size)."""
    reference, current = feature.get("reference_hist") or {}, feature.get("current_hist") or {}
    ref_counts, cur_counts = list(reference.get("counts", [])), list(current.get("counts", []))
    if "categories" in reference:
        labels = [plain(category) for category in reference["categories"]]
        extra, extra_label = "unseen", "not in the reference"
    else:
        edges = reference.get("edges", [])
        labels = [f"{a:.4g} – {b:.4g}" for a, b in zip(edges, edges[1:], strict=False)]
        extra, extra_label = "out_of_range", "out of range"
    # Values outside the reference's bins (or categories it never had) get a cell when present.
    if reference.get(extra) or current.get(extra):
        while extra_label in labels:  # a category of that very name keeps its own bar
            extra_label = f"[{extra_label}]"
        labels.append(extra_label)
        ref_counts.append(reference.get(extra, 0))
        cur_counts.append(current.get(extra, 0))

    def shares(counts):
        total = sum(counts) or 1
        return [count / total for count in counts]

    psi = _number(feature.get("psi"))
    title = plain(feature["name"]) + (f" · PSI {psi:.3g}" if psi is not None else "")
    return {
        "data": [
            {
                "type": "bar",
                "name": "reference",
                "x": labels,
                "y": shares(ref_counts),
                "customdata": ref_counts,
                "hovertemplate": "%{x}: %{y:.1%} (%{customdata})<extra>reference</extra>",
                "marker": {"color": "#b5c7c9"},
            },
            {
                "type": "bar",
                "name": "current",
                "x": labels,
                "y": shares(cur_counts),
                "customdata": cur_counts,
                "hovertemplate": "%{x}: %{y:.1%} (%{customdata})<extra>current</extra>",
                "marker": {"color": RED if feature.get("drifted") else ACCENT},
            },
        ],
        "layout": _layout(
            title,
            height=240,
            barmode="group",
            yaxis={"tickformat": ".0%"},
            xaxis={"type": "category", "tickangle": -30},
        ),
    }


# --- Fairness -------------------------------------------------------------------------------


def fairness_bars(attribute: dict, task: str = "classification") -> dict:
    """Per group of one protected attribute: selection rate (error for regression), with the
    four-fifths band under 80% of the best-treated group's rate. Groups too small to judge are
    drawn grey and left out of the band."""
    rate = "selection_rate" if task == "classification" else "error"
    groups = attribute.get("groups", [])
    rates = [_number(g.get(rate)) for g in groups if not g.get("too_small")]
    judged = [value for value in rates if value is not None]
    shapes = []
    if rate == "selection_rate" and judged and max(judged) > 0:
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": 0,
                "y1": FOUR_FIFTHS * max(judged),
                "fillcolor": RED_BAND,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    ratio = _number(attribute.get("disparate_impact_ratio"))
    title = plain(attribute["name"]) + (
        f" · disparate impact {ratio:.3g}" if ratio is not None else ""
    )
    return {
        "data": [
            {
                "type": "bar",
                "x": [plain(g["value"]) for g in groups],
                "y": [_number(g.get(rate)) for g in groups],
                "customdata": [
                    [g.get("count"), " (too small to judge)" if g.get("too_small") else ""]
                    for g in groups
                ],
                "hovertemplate": "%{x}: %{y:.3g} · %{customdata[0]} rows%{customdata[1]}"
                "<extra></extra>",
                "marker": {"color": [MUTED if g.get("too_small") else ACCENT for g in groups]},
            }
        ],
        "layout": _layout(
            title,
            height=240,
            shapes=shapes,
            xaxis={"type": "category"},
            yaxis={"title": {"text": rate.replace("_", " ")}},
            legend=False,
        ),
    }


def fairness_error_rates(attribute: dict) -> dict:
    """Per group of one protected attribute, its true and false positive rates side by side:
    what equalized odds compares. Groups too small to judge are named so under their bars."""
    groups = attribute.get("groups", [])
    labels = [plain(g["value"]) + (" (too small)" if g.get("too_small") else "") for g in groups]
    counts = [g.get("count") for g in groups]
    data = [
        {
            "type": "bar",
            "name": name,
            "x": labels,
            "y": [_number(g.get(key)) for g in groups],
            "customdata": counts,
            "hovertemplate": "%{x}: " + name + " %{y:.3g} · %{customdata} rows<extra></extra>",
            "marker": {"color": colour},
        }
        for key, name, colour in (("tpr", "TPR", ACCENT), ("fpr", "FPR", AMBER))
    ]
    difference = _number(attribute.get("equalized_odds_difference"))
    title = plain(attribute["name"]) + (
        f" · equalized odds difference {difference:.3g}" if difference is not None else ""
    )
    return {
        "data": data,
        "layout": _layout(
            title,
            height=240,
            barmode="group",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "rate"}, "range": [0, 1.02]},
        ),
    }


# --- Performance ----------------------------------------------------------------------------


def confusion_matrix(overall: dict) -> dict:
    """Counts of true (rows) against predicted (columns) labels."""
    matrix = overall["confusion_matrix"]
    labels = [plain(label) for label in matrix["labels"]]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": labels,
                "y": labels,
                "z": matrix["matrix"],
                "text": [[str(count) for count in row] for row in matrix["matrix"]],
                "texttemplate": "%{text}",
                "colorscale": [[0, "#ffffff"], [1, ACCENT]],
                "showscale": False,
                "hovertemplate": "true %{y}, predicted %{x}: %{z}<extra></extra>",
            }
        ],
        "layout": _layout(
            "Confusion matrix",
            height=280,
            legend=False,
            xaxis={"title": {"text": "predicted"}, "type": "category"},
            yaxis={"title": {"text": "true"}, "type": "category", "autorange": "reversed"},
        ),
    }


def _diagonal() -> dict:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": [0, 1],
        "y": [0, 1],
        "name": "chance",
        "line": {"color": GRID, "dash": "dash"},
        "hoverinfo": "skip",
    }


def roc_curve(overall: dict, baseline: dict | None = None) -> dict:
    """The ROC curve (and the production version's on the same data, when given)."""
    data = [_diagonal()]
    for label, source, colour in (
        ("production", baseline, MUTED),
        ("this version", overall, ACCENT),
    ):
        curve = (source or {}).get("roc_curve")
        if not source or not curve:
            continue
        auc = _number(source.get("roc_auc"))
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label + (f" (AUC {auc:.4g})" if auc is not None else ""),
                "x": curve["fpr"],
                "y": curve["tpr"],
                "line": {"color": colour},
                "hovertemplate": "FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            "ROC curve",
            xaxis={"title": {"text": "false positive rate"}, "range": [0, 1]},
            yaxis={"title": {"text": "true positive rate"}, "range": [0, 1.02]},
        ),
    }


def calibration_curve(overall: dict, baseline: dict | None = None) -> dict:
    """Observed share of positives against the mean predicted probability, per bin."""
    data = [_diagonal()]
    for label, source, colour in (
        ("production", baseline, MUTED),
        ("this version", overall, ACCENT),
    ):
        curve = (source or {}).get("calibration")
        if not curve:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": label,
                "x": curve["mean_predicted"],
                "y": curve["fraction_positive"],
                "customdata": curve.get("count", []),
                "hovertemplate": "predicted %{x:.3f}, observed %{y:.3f} (%{customdata} rows)"
                "<extra></extra>",
                "line": {"color": colour},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            "Calibration",
            xaxis={"title": {"text": "mean predicted probability"}, "range": [0, 1]},
            yaxis={"title": {"text": "fraction positive"}, "range": [0, 1.02]},
        ),
    }


def version_comparison(
    summary: dict, baseline_summary: dict, *, version: str, baseline: str
) -> dict:
    """Each summary metric of this version beside the production version's on the same data."""
    names = [
        name
        for name in summary
        if _number(summary.get(name)) is not None or _number(baseline_summary.get(name)) is not None
    ]
    version, baseline = plain(version), plain(baseline)
    return {
        "data": [
            {
                "type": "bar",
                "name": baseline,
                "x": [plain(name) for name in names],
                "y": [_number(baseline_summary.get(name)) for name in names],
                "marker": {"color": "#b5c7c9"},
                "hovertemplate": "%{x} = %{y:.6g}<extra>" + baseline + "</extra>",
            },
            {
                "type": "bar",
                "name": version,
                "x": [plain(name) for name in names],
                "y": [_number(summary.get(name)) for name in names],
                "marker": {"color": ACCENT},
                "hovertemplate": "%{x} = %{y:.6g}<extra>" + version + "</extra>",
            },
        ],
        "layout": _layout(
            f"{version} against {baseline}", barmode="group", xaxis={"type": "category"}
        ),
    }

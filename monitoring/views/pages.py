"""The model's Monitoring tab and an evaluation run's page: charts of monitoring/figures.py over
the runs a person may see (another team's model or run is a 404, as in the registry)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, F, Func, JSONField, Max, Min, Prefetch, Sum, Value
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from discussions import selectors as discussion_selectors
from registry.access import get_model_for

from .. import figures
from ..access import can_manage_monitors
from ..digest import level_of
from ..models import (
    Alert,
    Dataset,
    DatasetKind,
    EvaluationKind,
    EvaluationRun,
    Monitor,
    RunStatus,
)
from ..panels import ANCHOR_KIND, anchor_of

RECENT_RUNS = 15
TIMELINE_RUNS = 200  # finished runs of any kind charted on the tab, the latest
HEATMAP_RUNS = 30  # drift runs, the latest, as the heatmap's columns
TIMELINE_METRICS = 6
# Charted after the metrics of the monitors' rules, when runs report them.
PREFERRED_METRICS = ["roc_auc", "f1", "accuracy", "log_loss", "rmse", "mae", "r2", "mape"]
DISTRIBUTIONS_PER_PAGE = 6
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class MonitorHealth:
    monitor: Monitor
    level: str  # "ok" | "warning" | "critical"
    open_alerts: list


def _health(monitor: Monitor) -> MonitorHealth:
    """Critical if any open alert is critical, warning if any is open, else ok: the e-mail's
    rule (monitoring.digest.level_of)."""
    alerts = monitor.open_alerts  # type: ignore[attr-defined]  # prefetched by the view
    return MonitorHealth(monitor, str(level_of(alerts)), alerts)


def _alert_metric(alert: Alert) -> str:
    """The metric an alert's rule watches: rule keys start with the metric's name."""
    found = METRIC_NAME.match(alert.rule_key)
    return found.group(0) if found else ""


def _rules_for(monitors: Sequence[Monitor], metric: str) -> list[figures.Rule]:
    return [
        figures.Rule(rule.get("op", ">="), rule.get("warning"), rule.get("critical"))
        for monitor in monitors
        for rule in monitor.rules
        if isinstance(rule, dict) and rule.get("metric") == metric
    ]


def _timeline_metrics(points: list[figures.Point], monitors: Sequence[Monitor]) -> list[str]:
    """The metrics the monitors' rules watch, then the usual performance ones, that runs report."""
    reported = {
        name for point in points for name, value in point.summary.items() if value is not None
    }
    ruled = [
        rule["metric"]
        for monitor in monitors
        for rule in monitor.rules
        if isinstance(rule, dict) and rule.get("metric") in reported
    ]
    ordered: list[str] = []
    for name in ruled + [name for name in PREFERRED_METRICS if name in reported]:
        if name not in ordered:
            ordered.append(name)
    return ordered[:TIMELINE_METRICS]


def _production_runs(model, *kinds: str):
    """Finished runs on production batches (scheduled or asked for), newest data first: the
    timelines and the heatmap. New versions judged on the evaluation data are compared apart."""
    return EvaluationRun.objects.filter(
        version__model=model,
        kind__in=kinds,
        status=RunStatus.DONE,
        finished_at__isnull=False,
        dataset__kind=DatasetKind.BATCH,
    ).order_by("-dataset__observed_at", "-finished_at")


class FeatureField(Func):
    """One field of every feature of a drift run's metrics, as a JSON array (PostgreSQL's
    jsonb_path_query_array): the heatmap reads names, PSIs and verdicts without the histograms,
    which make 30 runs of 600 features some 11 MB to fetch and parse (2 s a page)."""

    function = "jsonb_path_query_array"
    template = "%(function)s(%(expressions)s::jsonpath)"
    output_field = JSONField()

    def __init__(self, field: str):
        super().__init__(F("metrics"), Value(f"$.features[*].{field}"))


def _drift_columns(model) -> list[figures.DriftColumn]:
    runs = _production_runs(model, EvaluationKind.DRIFT)[:HEATMAP_RUNS]
    if connection.vendor != "postgresql":  # SQLite has no JSON path over arrays: whole metrics
        return figures.drift_columns_of(runs.select_related("version", "dataset"))
    rows = runs.annotate(
        names=FeatureField("name"), psi=FeatureField("psi"), drifted=FeatureField("drifted")
    ).values("dataset__observed_at", "version__number", "names", "psi", "drifted")
    return [
        figures.DriftColumn(
            row["dataset__observed_at"],
            row["version__number"],
            dict(zip(row["names"], row["psi"], strict=True)),
            dict(zip(row["names"], row["drifted"], strict=True)),
        )
        for row in rows
    ]


def _versions_on_evaluation_data(model, monitors: Sequence[Monitor]) -> dict | None:
    """Each version's latest results of each kind on the model's latest evaluation dataset
    (the runs of a new version's upload, and those asked for on it), a chart per metric."""
    evaluation = Dataset.objects.filter(model=model, kind=DatasetKind.EVALUATION).first()
    if evaluation is None:
        return None
    rows = (
        EvaluationRun.objects.filter(dataset=evaluation, status=RunStatus.DONE)
        .order_by("version__number", "kind", "-finished_at")
        .annotate(summary=F("metrics__summary"))
        .values("version__number", "version__stage", "kind", "summary")
    )
    seen: set[tuple[int, str]] = set()
    by_version: dict[int, tuple[str, dict]] = {}
    for row in rows:
        if (row["version__number"], row["kind"]) in seen:
            continue  # an older run of the same kind
        seen.add((row["version__number"], row["kind"]))
        _, summary = by_version.setdefault(row["version__number"], (row["version__stage"], {}))
        summary.update(row["summary"] or {})
    if not by_version:
        return None
    points = [
        figures.Point(0, number, evaluation.observed_at, summary)
        for number, (_, summary) in by_version.items()
    ]
    charts = []
    for index, metric in enumerate(_timeline_metrics(points, monitors)):
        values = [
            (number, stage, summary.get(metric)) for number, (stage, summary) in by_version.items()
        ]
        charts.append((f"versions-{index}", figures.metric_by_version(values, metric)))
    return {"dataset": evaluation, "charts": charts}


@login_required
@require_safe
def model_monitoring(request, name):
    """Health per monitor, the latest runs, metric timelines and the drift heatmap over the
    time of the production data, and the versions compared on the evaluation data."""
    model = get_model_for(request.user, name)
    open_alerts = (
        Alert.objects.filter(resolved_at__isnull=True)
        .select_related("version")
        .annotate(data_at=F("run__dataset__observed_at"))
    )
    monitors = list(
        Monitor.objects.filter(model=model).prefetch_related(
            Prefetch("alerts", queryset=open_alerts, to_attr="open_alerts")
        )
    )
    health = [_health(monitor) for monitor in monitors]
    recent = list(
        EvaluationRun.objects.filter(version__model=model)
        .select_related("version", "dataset")
        .defer("metrics", "dataset__schema", "dataset__missing")[:RECENT_RUNS]
    )
    # Only the summaries (of every kind), not the curves and histograms, of the latest runs.
    points = [
        figures.Point(
            row["pk"], row["version__number"], row["dataset__observed_at"], row["summary"] or {}
        )
        for row in _production_runs(model, *EvaluationKind.values)
        .annotate(summary=F("metrics__summary"))
        .values("pk", "version__number", "dataset__observed_at", "summary")[:TIMELINE_RUNS]
    ]
    alerts = [alert for item in health for alert in item.open_alerts]
    timelines = []
    for index, metric in enumerate(_timeline_metrics(points, monitors)):
        markers = [
            figures.Marker(
                alert.data_at or alert.opened_at, alert.value, alert.level, alert.message
            )
            for alert in alerts
            if _alert_metric(alert) == metric
        ]
        figure = figures.metric_timeline(
            points, metric, rules=_rules_for(monitors, metric), alerts=markers
        )
        timelines.append((f"timeline-{index}", figure))
    drift_columns = _drift_columns(model)
    versions = _versions_on_evaluation_data(model, monitors)
    context = {
        "model": model,
        "health": health,
        "recent": recent,
        "timelines": timelines,
        "heatmap": figures.drift_heatmap(drift_columns) if drift_columns else None,
        "versions": versions,
        "can_manage": can_manage_monitors(request.user, model),
    }
    return render(request, "monitoring/model_monitoring.html", context)


def _run_for(user, pk: int) -> EvaluationRun:
    """The run, if the user may see its model (else 404, whether or not it exists)."""
    run = (
        EvaluationRun.objects.select_related(
            "version__model", "dataset", "reference", "monitor", "created_by", "baseline__version"
        )
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise Http404("No such evaluation.")
    model = get_model_for(user, run.version.model.name)  # 404 outside the user's teams
    run.version.model = model  # with its team and the caller's role
    return run


def _window(run: EvaluationRun) -> dict | None:
    """What a scheduled run judged: its dataset and its window's batches together (first and
    last observed, how many, their rows); None for a run of one dataset."""
    ids = {run.dataset_id, *run.window.values_list("pk", flat=True)}
    if len(ids) == 1:
        return None
    return Dataset.objects.filter(pk__in=ids).aggregate(
        batches=Count("pk"),
        rows=Sum("row_count"),
        first=Min("observed_at"),
        last=Max("observed_at"),
    )


def _seconds(value: float) -> str:
    """A duration for people: milliseconds under a second, then seconds, then minutes."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 90:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s"


def _timing(run: EvaluationRun) -> dict:
    """The time a run waited for a worker (queued to started) apart from the time it worked
    (started to finished, its duration_seconds): a busy or starting worker makes the first long
    while the work itself takes a fraction of a second."""
    timing = {}
    if run.started_at:
        timing["waited"] = _seconds(max((run.started_at - run.queued_at).total_seconds(), 0.0))
    if run.duration_seconds is not None:
        timing["worked"] = _seconds(run.duration_seconds)
    return timing


def _performance(run: EvaluationRun) -> dict:
    metrics = run.metrics
    overall = metrics.get("overall", {})
    baseline = run.baseline if run.baseline and run.baseline.status == RunStatus.DONE else None
    base_overall = baseline.metrics.get("overall", {}) if baseline else None
    charts = []
    if baseline:
        charts.append(
            (
                "comparison",
                figures.version_comparison(
                    metrics.get("summary", {}),
                    baseline.metrics.get("summary", {}),
                    version=f"v{run.version.number}",
                    baseline=f"v{baseline.version.number} (production)",
                ),
            )
        )
    if metrics.get("task") == "classification":
        if overall.get("confusion_matrix"):
            charts.append(("confusion", figures.confusion_matrix(overall)))
        if overall.get("roc_curve"):
            charts.append(("roc", figures.roc_curve(overall, base_overall)))
        if overall.get("calibration"):
            charts.append(("calibration", figures.calibration_curve(overall, base_overall)))
    summary = metrics.get("summary", {})
    base_summary = baseline.metrics.get("summary", {}) if baseline else {}
    return {
        "baseline": baseline,
        "rows": [(name, value, base_summary.get(name)) for name, value in summary.items()],
        "charts": charts,
        "segments": sorted(metrics.get("segments", {}).items()),
    }


def _drift(run: EvaluationRun, page_number) -> dict:
    metrics = run.metrics
    page = Paginator(metrics.get("features", []), figures.TOP_FEATURES).get_page(page_number)
    charts = [
        (f"distribution-{index}", figures.feature_distribution(feature))
        for index, feature in enumerate(page.object_list[:DISTRIBUTIONS_PER_PAGE])
    ]
    prediction = metrics.get("prediction")
    if prediction and page.number == 1:
        charts.append(("distribution-prediction", figures.feature_distribution(prediction)))
    # The model's PSI threshold when the run was asked for: PSI at or above it is a large shift.
    threshold = run.options.get("psi_threshold")
    large = [
        feature["name"]
        for feature in metrics.get("features", [])
        if threshold is not None and feature.get("psi") is not None and feature["psi"] >= threshold
    ]
    return {
        "page": page,
        "charts": charts,
        "prediction": prediction,
        "psi_threshold": threshold,
        "large_psi": set(large),
    }


def _fairness(run: EvaluationRun) -> dict:
    task = run.metrics.get("task", "classification")
    attributes = run.metrics.get("attributes", [])
    return {
        "task": task,
        "attributes": [
            {
                "attribute": attribute,
                "charts": [(f"fairness-{index}", figures.fairness_bars(attribute, task))]
                + (
                    [(f"fairness-{index}-rates", figures.fairness_error_rates(attribute))]
                    if task == "classification"
                    else []
                ),
            }
            for index, attribute in enumerate(attributes)
        ],
    }


@login_required
@require_safe
def run_detail(request, pk):
    """A run: its inputs and status; while it runs a progress bar, once done its figures and
    tables; and its comment thread."""
    run = _run_for(request.user, pk)
    anchor_id = str(run.pk)
    context = {
        "run": run,
        "model": run.version.model,
        "window": _window(run),
        "timing": _timing(run),
        "threads": discussion_selectors.threads_on(ANCHOR_KIND, anchor_id),
        "anchor_kind": ANCHOR_KIND,
        "anchor_id": anchor_id,
        "discussion": discussion_selectors.discussion(
            request.user, ANCHOR_KIND, anchor_id, anchor_of(run)
        ),
    }
    if run.status == RunStatus.DONE:
        if run.kind == EvaluationKind.PERFORMANCE:
            context["performance"] = _performance(run)
        elif run.kind == EvaluationKind.DRIFT:
            context["drift"] = _drift(run, request.GET.get("page"))
        elif run.kind == EvaluationKind.FAIRNESS:
            context["fairness"] = _fairness(run)
    return render(request, "monitoring/run_detail.html", context)


@login_required
@require_safe
def run_progress(request, pk):
    """The progress block htmx polls while the run is queued or running; once it has ended,
    the whole page is reloaded (HX-Refresh) to show its results."""
    run = _run_for(request.user, pk)
    if run.done and request.htmx:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "monitoring/_run_progress.html", {"run": run})

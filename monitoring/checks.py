"""Evaluation results as review checks: registered with reviews.checks in AppConfig.ready().

Each kind reads the latest run of the request's version of the kind its metric comes from, on
one of the model's evaluation datasets (the data a new version is judged on when it loads; runs
on production batches or references answer other questions and leave the checks alone):
pending while that run is queued or running (or none was made yet), then pass or fail, with a
link to the run's page. A run that ends calls dismiss_stale_approvals, so approvals that saw a
check pending do not count once it has an answer. The runs are loaded for a whole list of
requests at once (`attach_runs`, the kinds' `prepare` hook), so a list of requests costs the
same queries whatever its length.
"""

from collections.abc import Callable
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import reverse

from reviews.checks import (
    FAIL,
    OPERATORS,
    PASS,
    PENDING,
    CheckResult,
    production_version_of,
    register_check_kind,
)

from .models import DatasetKind, EvaluationKind, EvaluationRun, RunStatus
from .stats import options as stats_options

# Summary keys each kind of run writes, and how people read them.
METRICS = {
    "accuracy": (EvaluationKind.PERFORMANCE, "accuracy"),
    "precision": (EvaluationKind.PERFORMANCE, "precision"),
    "recall": (EvaluationKind.PERFORMANCE, "recall"),
    "f1": (EvaluationKind.PERFORMANCE, "F1"),
    "roc_auc": (EvaluationKind.PERFORMANCE, "ROC AUC"),
    "log_loss": (EvaluationKind.PERFORMANCE, "log loss"),
    "mae": (EvaluationKind.PERFORMANCE, "MAE"),
    "rmse": (EvaluationKind.PERFORMANCE, "RMSE"),
    "r2": (EvaluationKind.PERFORMANCE, "R²"),
    "mape": (EvaluationKind.PERFORMANCE, "MAPE"),
    "share_drifted": (EvaluationKind.DRIFT, "share of drifted features"),
    "drifted_features": (EvaluationKind.DRIFT, "drifted features"),
    "max_psi": (EvaluationKind.DRIFT, "largest PSI"),
    "prediction_psi": (EvaluationKind.DRIFT, "prediction PSI"),
    "min_disparate_impact_ratio": (EvaluationKind.FAIRNESS, "lowest disparate impact ratio"),
    "max_demographic_parity_difference": (
        EvaluationKind.FAIRNESS,
        "largest demographic parity difference",
    ),
    "max_equalized_odds_difference": (EvaluationKind.FAIRNESS, "largest equalized odds difference"),
}
LOWER_IS_BETTER = {"log_loss", "mae", "rmse", "mape"}
LIVE = (RunStatus.PENDING, RunStatus.RUNNING)


def run_url(run: EvaluationRun) -> str:
    return reverse("monitoring:run", args=[run.pk])


def _newest(runs: QuerySet[EvaluationRun], *partition: str) -> QuerySet[EvaluationRun]:
    """The newest run of each partition (by the model's ordering, as `.first()` would pick it),
    in one query however many partitions there are; ranked on ids, so older runs' metrics are
    never read."""
    ranked = runs.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F(field) for field in partition],
            order_by=[F("queued_at").desc(), F("id").desc()],
        )
    )
    return EvaluationRun.objects.filter(pk__in=ranked.filter(rank=1).values("pk"))


def attach_runs(requests) -> None:
    """Give each request its version's newest run of each kind on evaluation data, whatever
    started it (one query for the whole list; requests that have them already are skipped)."""
    unloaded = [request for request in requests if not hasattr(request, "_evaluation_runs")]
    if not unloaded:
        return
    runs = EvaluationRun.objects.filter(
        version_id__in={r.version_id for r in unloaded}, dataset__kind=DatasetKind.EVALUATION
    )
    newest = {
        (run.version_id, run.kind): run
        for run in _newest(runs, "version_id", "kind").select_related("baseline")
    }
    for request in unloaded:
        request._evaluation_runs = {
            kind: newest.get((request.version_id, kind)) for kind in EvaluationKind.values
        }


def attach_production_runs(requests) -> None:
    """Give each request the production version's runs its vs-production checks compare with:
    the one made beside its own run on upload, else production's newest of the same kind on the
    same dataset (one more query for the whole list)."""
    attach_runs(requests)
    unloaded = [request for request in requests if not hasattr(request, "_production_runs")]
    wanted: dict[tuple[int, str, int], list] = {}  # (production, kind, dataset): its requests
    for request in unloaded:
        request._production_runs = {}
        production = production_version_of(request)
        if production is None or production.pk == request.version_id:
            continue
        for kind, run in request._evaluation_runs.items():
            if run is None or run.status != RunStatus.DONE:
                continue
            if run.baseline is not None and run.baseline.version_id == production.pk:
                request._production_runs[kind] = run.baseline
            else:
                wanted.setdefault((production.pk, kind, run.dataset_id), []).append(request)
    if not wanted:
        return
    same_data = reduce(or_, (Q(version_id=v, kind=k, dataset_id=d) for v, k, d in wanted))
    partition = ("version_id", "kind", "dataset_id")
    for run in _newest(EvaluationRun.objects.filter(same_data), *partition):
        for request in wanted[(run.version_id, run.kind, run.dataset_id)]:
            request._production_runs[run.kind] = run


def _loaded(request, attach, attribute: str) -> dict:
    """What `attach` keeps on the request. A list's prepare() kept it for every row; a request
    checked alone loads it now and keeps nothing, so checking the same object again once a run
    has ended sees that run."""
    if hasattr(request, attribute):
        return getattr(request, attribute)
    attach([request])
    loaded = getattr(request, attribute)
    for kept in ("_evaluation_runs", "_production_runs"):
        if hasattr(request, kept):
            delattr(request, kept)
    return loaded


def _newest_run(request, kind: str) -> EvaluationRun | None:
    return _loaded(request, attach_runs, "_evaluation_runs")[kind]


def _answer(request, kind: str, name: str, judge) -> CheckResult:
    """Pending, failed or judged by `judge(run) -> (state, detail)` on the newest run."""
    run = _newest_run(request, kind)
    if run is None:
        return CheckResult(name, PENDING, "not evaluated yet")
    url = run_url(run)
    if run.status in LIVE:
        return CheckResult(name, PENDING, f"evaluation {run.get_status_display().lower()}", url)
    if run.status == RunStatus.FAILED:
        return CheckResult(name, FAIL, "the evaluation failed", url)
    state, detail = judge(run)
    return CheckResult(name, state, detail, url)


def _summary_value(run: EvaluationRun, metric: str) -> float | None:
    value = (run.metrics.get("summary") or {}).get(metric)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(spec: dict, key: str, *, low: float | None = None) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValidationError(f"{key} must be a number.")
    if low is not None and value < low:
        raise ValidationError(f"{key} must be {low:g} or more.")
    return value


def _metric(spec: dict) -> str:
    metric = spec.get("metric")
    if metric not in METRICS:
        raise ValidationError(f"metric must be one of: {', '.join(METRICS)}.")
    return metric


# --- evaluation_metric: {"metric": "roc_auc", "op": ">=", "value": 0.85} ---------------------


def _clean_metric(spec: dict) -> dict:
    if spec.get("op") not in OPERATORS:
        raise ValidationError(f"op must be one of: {', '.join(OPERATORS)}.")
    return {"metric": _metric(spec), "op": spec["op"], "value": _number(spec, "value")}


def _metric_name(spec: dict) -> str:
    return f"{METRICS[spec['metric']][1]} {OPERATORS[spec['op']][0]} {spec['value']:g}"


def _evaluate_metric(request, spec: dict) -> CheckResult:
    kind = METRICS[spec["metric"]][0]

    def judge(run):
        value = _summary_value(run, spec["metric"])
        if value is None:
            return FAIL, f"{spec['metric']} could not be computed"
        holds = OPERATORS[spec["op"]][1](value, spec["value"])
        return (PASS if holds else FAIL), f"{value:.4g}"

    return _answer(request, kind, _metric_name(spec), judge)


# --- evaluation_vs_production: {"metric": "roc_auc", "max_drop": 0.01} -----------------------


def _clean_vs_production(spec: dict) -> dict:
    return {"metric": _metric(spec), "max_drop": _number(spec, "max_drop", low=0)}


def _vs_production_name(spec: dict) -> str:
    label = METRICS[spec["metric"]][1]
    return f"{label} no worse than production by more than {spec['max_drop']:g}"


def _production_run(request, run: EvaluationRun) -> EvaluationRun | None:
    """The production version's run that `run` (done) is compared with, if there is one."""
    return _loaded(request, attach_production_runs, "_production_runs").get(run.kind)


def _evaluate_vs_production(request, spec: dict) -> CheckResult:
    metric = spec["metric"]
    kind = METRICS[metric][0]
    name = _vs_production_name(spec)
    production = production_version_of(request)
    if production is None or production.pk == request.version_id:
        return CheckResult(name, PASS, "no other version in production to compare with")
    run = _newest_run(request, kind)
    if run is None:
        return CheckResult(name, PENDING, "not evaluated yet")
    if run.status in LIVE:
        return CheckResult(
            name, PENDING, f"evaluation {run.get_status_display().lower()}", run_url(run)
        )
    if run.status == RunStatus.FAILED:
        return CheckResult(name, FAIL, "the evaluation failed", run_url(run))
    baseline = _production_run(request, run)
    if baseline is None or baseline.status in LIVE:
        detail = f"production v{production.number} not evaluated on the same data yet"
        return CheckResult(name, PENDING, detail, run_url(run))
    if baseline.status == RunStatus.FAILED:  # nothing to compare with: said, not held against it
        detail = f"production v{production.number}'s evaluation on the same data failed"
        return CheckResult(name, PASS, detail, run_url(baseline))
    value, current = _summary_value(run, metric), _summary_value(baseline, metric)
    if value is None:
        return CheckResult(name, FAIL, f"{metric} could not be computed", run_url(run))
    if current is None:
        detail = f"production v{production.number} has no {metric} on the same data"
        return CheckResult(name, PASS, detail, run_url(run))
    drop = value - current if metric in LOWER_IS_BETTER else current - value
    detail = f"{value:.4g} against {current:.4g} in production v{production.number}"
    return CheckResult(name, PASS if drop <= spec["max_drop"] else FAIL, detail, run_url(run))


# --- drift_psi: {"max_psi": 0.2}, or {} for the model's psi_threshold -------------------------


def _clean_psi(spec: dict) -> dict:
    if spec.get("max_psi") is None:
        return {"max_psi": None}
    return {"max_psi": _number(spec, "max_psi", low=0)}


def _psi_name(spec: dict) -> str:
    if spec["max_psi"] is None:
        return "no feature with PSI at or above the model's threshold against the reference"
    return f"no feature with PSI ≥ {spec['max_psi']:g} against the reference"


def _evaluate_psi(request, spec: dict) -> CheckResult:
    def judge(run):
        # Without a limit of its own, the check takes the model's psi_threshold as the run was
        # asked for with it (the same one its page marks).
        limit = spec["max_psi"]
        if limit is None:
            limit = run.options.get("psi_threshold", stats_options.DEFAULTS["psi_threshold"])
        over = [
            f"{f['name']} {f['psi']:.3g}"
            for f in run.metrics.get("features", [])
            if isinstance(f.get("psi"), int | float) and f["psi"] >= limit
        ]
        threshold = "" if spec["max_psi"] is not None else f" (threshold {limit:g})"
        if over:
            return FAIL, ", ".join(over[:5]) + (
                f" and {len(over) - 5} more" if len(over) > 5 else ""
            ) + threshold
        largest = _summary_value(run, "max_psi")
        largest_text = f"{largest:.3g}" if largest is not None else "unknown"
        return PASS, f"largest PSI {largest_text}{threshold}"

    return _answer(request, EvaluationKind.DRIFT, _psi_name(spec), judge)


# --- fairness_ratio: {"min_ratio": 0.8} ------------------------------------------------------


def _clean_ratio(spec: dict) -> dict:
    ratio = _number(spec, "min_ratio", low=0)
    if ratio > 1:
        raise ValidationError("min_ratio must be between 0 and 1.")
    return {"min_ratio": ratio}


def _ratio_name(spec: dict) -> str:
    return f"disparate impact ratio ≥ {spec['min_ratio']:g} for every group"


def _evaluate_ratio(request, spec: dict) -> CheckResult:
    def judge(run):
        low = []
        for attribute in run.metrics.get("attributes", []):
            ratio = attribute.get("disparate_impact_ratio")
            if isinstance(ratio, int | float) and ratio < spec["min_ratio"]:
                low.append(f"{attribute.get('name')} {ratio:.3g}")
        if low:
            return FAIL, ", ".join(low)
        lowest = _summary_value(run, "min_disparate_impact_ratio")
        if lowest is None:
            return PASS, "no group large enough to judge"
        return PASS, f"lowest {lowest:.3g}"

    return _answer(request, EvaluationKind.FAIRNESS, _ratio_name(spec), judge)


# kind: (clean, name, evaluate, an example spec, prepare)
KINDS: dict[str, tuple[Callable, Callable, Callable, dict, Callable]] = {
    "evaluation_metric": (
        _clean_metric,
        _metric_name,
        _evaluate_metric,
        {"metric": "roc_auc", "op": ">=", "value": 0.85},
        attach_runs,
    ),
    "evaluation_vs_production": (
        _clean_vs_production,
        _vs_production_name,
        _evaluate_vs_production,
        {"metric": "roc_auc", "max_drop": 0.01},
        attach_production_runs,
    ),
    "drift_psi": (_clean_psi, _psi_name, _evaluate_psi, {"max_psi": 0.2}, attach_runs),
    "fairness_ratio": (_clean_ratio, _ratio_name, _evaluate_ratio, {"min_ratio": 0.8}, attach_runs),
}


def register() -> None:
    for kind, (clean, name, evaluate, example, prepare) in KINDS.items():
        register_check_kind(
            kind, clean=clean, name=name, evaluate=evaluate, example=example, prepare=prepare
        )

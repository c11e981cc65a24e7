"""Automatic checks a policy asks for: one list of named checks, each pass, fail or pending.

A kind is registered once with `register_check_kind(kind, clean=, name=, evaluate=, example=)`:
`clean(spec)` validates a policy's spec (raising ValidationError) and returns it normalised,
`name(spec)` says what it checks in a few words ("accuracy ≥ 0.9"), and
`evaluate(request, spec)` answers a `CheckResult`, and the optional `prepare(requests)` loads
what the kind's checks read for a whole list of requests at once (kept on the request objects),
so a list costs the same queries for one request or five hundred. Reviews registers the metric
kinds below; monitoring registers its evaluation results the same way from its own
`AppConfig.ready()`. An approval remembers the results it saw: a provider whose results change
(an evaluation that finishes) calls `reviews.services.dismiss_stale_approvals(model_id=...)`,
as a stage move does.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import ValidationError

from registry.models import ModelVersion, Stage

CheckState = Literal["pass", "fail", "pending"]
PASS: CheckState = "pass"
FAIL: CheckState = "fail"
PENDING: CheckState = "pending"


@dataclass(frozen=True)
class CheckResult:
    name: str
    state: CheckState
    detail: str = ""
    url: str = ""  # the evidence, e.g. the evaluation run the result comes from


@dataclass(frozen=True)
class CheckKind:
    kind: str
    clean: Callable[[dict], dict]
    name: Callable[[dict], str]
    evaluate: Callable[..., CheckResult]
    example: dict
    prepare: Callable[[list], None] | None = None


_kinds: dict[str, CheckKind] = {}


def register_check_kind(
    kind: str,
    *,
    clean: Callable[[dict], dict],
    name: Callable[[dict], str],
    evaluate: Callable[..., CheckResult],
    example: dict,
    prepare: Callable[[list], None] | None = None,
) -> None:
    """`example` is a spec as a policy writes it (without the kind), shown to people who do."""
    _kinds[kind] = CheckKind(kind, clean, name, evaluate, example, prepare)


def kinds() -> list[str]:
    return sorted(_kinds)


def examples() -> list[tuple[str, str]]:
    """Each kind's example as the JSON a policy holds, and what it checks in words."""
    shown = []
    for kind in kinds():
        spec = {"kind": kind, **_kinds[kind].example}
        shown.append((json.dumps(spec, ensure_ascii=False), check_name(spec)))
    return shown


def clean_checks(specs) -> list[dict]:
    """A policy's checks validated by their kinds; ValidationError naming the first bad one."""
    if not isinstance(specs, list):
        raise ValidationError("Checks are a list of objects, each with a kind.")
    cleaned = []
    for position, spec in enumerate(specs, start=1):
        if not isinstance(spec, dict) or spec.get("kind") not in _kinds:
            raise ValidationError(f"Check {position}: give a kind, one of: {', '.join(kinds())}.")
        try:
            cleaned.append({"kind": spec["kind"], **_kinds[spec["kind"]].clean(spec)})
        except ValidationError as error:
            raise ValidationError(f"Check {position}: {' '.join(error.messages)}") from None
    return cleaned


def check_name(spec: dict) -> str:
    kind = _kinds.get(spec.get("kind", ""))
    return kind.name(spec) if kind else f"unknown check {spec.get('kind')!r}"


def evaluate(request, specs: list[dict]) -> list[CheckResult]:
    """Every check of the policy on this request, in the policy's order."""
    results = []
    for spec in specs:
        kind = _kinds.get(spec.get("kind", ""))
        if kind is None:  # its app was removed: say so rather than pass silently
            results.append(CheckResult(check_name(spec), FAIL, "this kind of check is unknown"))
        else:
            results.append(kind.evaluate(request, spec))
    return results


def prepare(checked: list[tuple[Any, list[dict]]]) -> None:
    """Each `prepare` hook once, with the requests (given with their policies' checks) that
    have a check of a kind using it."""
    users: dict[Callable[[list], None], list] = {}
    for request, specs in checked:
        for spec in specs:
            kind = _kinds.get(spec.get("kind", ""))
            if kind is None or kind.prepare is None:
                continue
            requests = users.setdefault(kind.prepare, [])
            if not requests or requests[-1] is not request:
                requests.append(request)
    for hook, requests in users.items():
        hook(requests)


# --- Metric checks ---------------------------------------------------------------------------

OPERATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    ">=": ("≥", lambda a, b: a >= b),
    ">": (">", lambda a, b: a > b),
    "<=": ("≤", lambda a, b: a <= b),
    "<": ("<", lambda a, b: a < b),
}


def _metric_name(spec: dict) -> str:
    metric = spec.get("metric")
    if not isinstance(metric, str) or not metric.strip() or len(metric) > 100:
        raise ValidationError("name the metric (1-100 characters).")
    return metric.strip()


def _number(spec: dict, key: str, default: float | None = None) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{key} must be a finite number.")
    return value


def _clean_threshold(spec: dict) -> dict:
    op = spec.get("op")
    if op not in OPERATORS:
        raise ValidationError(f"op must be one of: {', '.join(OPERATORS)}.")
    return {"metric": _metric_name(spec), "op": op, "value": _number(spec, "value")}


def _threshold_name(spec: dict) -> str:
    return f"{spec['metric']} {OPERATORS[spec['op']][0]} {spec['value']:g}"


def _metric_of(version: ModelVersion, metric: str) -> float | None:
    value = version.metrics.get(metric)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _evaluate_threshold(request, spec: dict) -> CheckResult:
    name = _threshold_name(spec)
    value = _metric_of(request.version, spec["metric"])
    # A version's metrics never change after it is registered: missing now is missing for good.
    if value is None:
        return CheckResult(name, FAIL, "metric not recorded")
    holds = OPERATORS[spec["op"]][1](value, spec["value"])
    return CheckResult(name, PASS if holds else FAIL, f"{value:g}")


def _clean_not_worse(spec: dict) -> dict:
    tolerance = _number(spec, "tolerance", 0)
    if tolerance < 0:
        raise ValidationError("tolerance must be 0 or more.")
    higher = spec.get("higher_is_better", True)
    if not isinstance(higher, bool):
        raise ValidationError("higher_is_better must be true or false.")
    return {"metric": _metric_name(spec), "tolerance": tolerance, "higher_is_better": higher}


def _not_worse_name(spec: dict) -> str:
    return f"{spec['metric']} not worse than production (tolerance {spec['tolerance']:g})"


def production_version_of(request) -> ModelVersion | None:
    """The model's version in production now, fetched once per request object (lists prefetch
    it for all their requests with selectors.attach_production)."""
    if not hasattr(request, "_production"):
        request._production = (
            ModelVersion.objects.filter(model_id=request.model_id, stage=Stage.PRODUCTION)
            .only("id", "number", "metrics")
            .first()
        )
    return request._production


def _evaluate_not_worse(request, spec: dict) -> CheckResult:
    name = _not_worse_name(spec)
    value = _metric_of(request.version, spec["metric"])
    if value is None:
        return CheckResult(name, FAIL, "metric not recorded")
    production = production_version_of(request)
    if production is None or production.pk == request.version_id:
        return CheckResult(name, PASS, "no other version in production to compare with")
    current = _metric_of(production, spec["metric"])
    if current is None:
        return CheckResult(name, PASS, f"production v{production.number} has no {spec['metric']}")
    tolerance = spec["tolerance"]
    ok = value >= current - tolerance if spec["higher_is_better"] else value <= current + tolerance
    detail = f"{value:g} against {current:g} in production v{production.number}"
    return CheckResult(name, PASS if ok else FAIL, detail)


register_check_kind(
    "metric_threshold",
    clean=_clean_threshold,
    name=_threshold_name,
    evaluate=_evaluate_threshold,
    example={"metric": "accuracy", "op": ">=", "value": 0.9},
)
register_check_kind(
    "not_worse_than_production",
    clean=_clean_not_worse,
    name=_not_worse_name,
    evaluate=_evaluate_not_worse,
    example={"metric": "accuracy", "tolerance": 0.01, "higher_is_better": True},
)

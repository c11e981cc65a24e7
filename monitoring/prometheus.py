"""/metrics: what Prometheus scrapes, read from the database at each scrape.

A custom Collector in its own CollectorRegistry (never the process-global one, whose contents
depend on which process answers): every gunicorn process gives the same answer, because it
comes from the tables, not from counters in memory. Labels stay few and bounded: model,
version, stage, kind, data (the kind of dataset judged: batch, evaluation or reference), metric
(summary names), level, status. Only versions in staging or production are reported; values are
in base units (ratios, seconds).

`data` keeps the two questions apart: how a live version does on production batches (the
monitors' runs), and how it did on the evaluation data beside a new version. Without it, each
upload's side-by-side run would replace the batch value until the next scheduled run.
"""

import hmac

from django.conf import settings
from django.db.models import Count, F, Sum, Window
from django.db.models.functions import RowNumber
from django.http import HttpResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from registry.models import Stage

from .models import Alert, EvaluationRun, RunStatus

LIVE = (Stage.PRODUCTION, Stage.STAGING)


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class MonitoringCollector:
    """Latest evaluation values per live version, open alerts, and how evaluations went."""

    def collect(self):
        yield from self._latest_values()
        yield from self._alerts()
        yield from self._runs()

    def _latest_values(self):
        metric = GaugeMetricFamily(
            "vetted_evaluation_metric",
            "Summary value of the finished evaluation on the newest data, per live version, data"
            " and metric.",
            labels=["model", "version", "stage", "kind", "data", "metric"],
        )
        drift = GaugeMetricFamily(
            "vetted_drift_share_drifted_ratio",
            "Share of features the latest drift evaluation found drifted (0 to 1).",
            labels=["model", "version", "stage", "data"],
        )
        fairness = GaugeMetricFamily(
            "vetted_fairness_disparate_impact_ratio",
            "Lowest disparate impact ratio of any group in the latest fairness evaluation.",
            labels=["model", "version", "stage", "data"],
        )
        finished = GaugeMetricFamily(
            "vetted_evaluation_last_finished_timestamp_seconds",
            "When the latest evaluation of this kind on this data finished (Unix time).",
            labels=["model", "version", "stage", "kind", "data"],
        )
        # Latest by the data judged, not by when it was judged: a run asked today on last
        # month's batch does not stand for the version's state now.
        ranked = EvaluationRun.objects.filter(
            status=RunStatus.DONE, version__stage__in=LIVE
        ).annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("version_id"), F("kind"), F("dataset__kind")],
                order_by=[F("dataset__observed_at").desc(), F("id").desc()],
            )
        )
        latest_ids = ranked.filter(rank=1).values("pk")
        runs = (
            EvaluationRun.objects.filter(pk__in=latest_ids)
            .select_related("version__model", "dataset")
            .order_by("version__model__name", "version__number", "kind", "dataset__kind")
        )
        for run in runs:
            version = run.version
            labels = [version.model.name, str(version.number), version.stage]
            data = run.dataset.kind
            summary = (run.metrics or {}).get("summary") or {}
            for name, value in sorted(summary.items()):
                number = _number(value)
                if number is not None:
                    metric.add_metric([*labels, run.kind, data, name], number)
            if run.finished_at is not None:
                finished.add_metric([*labels, run.kind, data], run.finished_at.timestamp())
            share = _number(summary.get("share_drifted"))
            if run.kind == "drift" and share is not None:
                drift.add_metric([*labels, data], share)
            ratio = _number(summary.get("min_disparate_impact_ratio"))
            if run.kind == "fairness" and ratio is not None:
                fairness.add_metric([*labels, data], ratio)
        yield from (metric, drift, fairness, finished)

    def _alerts(self):
        family = GaugeMetricFamily(
            "vetted_alerts_open",
            "Open monitoring alerts, per model and level.",
            labels=["model", "level"],
        )
        counts = (
            Alert.objects.filter(resolved_at__isnull=True)
            .values("monitor__model__name", "level")
            .annotate(n=Count("id"))
            .order_by("monitor__model__name", "level")
        )
        for row in counts:
            family.add_metric([row["monitor__model__name"], row["level"]], row["n"])
        yield family

    def _runs(self):
        durations = SummaryMetricFamily(
            "vetted_evaluation_duration_seconds",
            "Time finished evaluations took, from start to end.",
            labels=["model", "kind"],
        )
        totals = CounterMetricFamily(
            "vetted_evaluations",
            "Evaluations that ended, per model, kind and status (done or failed).",
            labels=["model", "kind", "status"],
        )
        rows = (
            EvaluationRun.objects.filter(status__in=(RunStatus.DONE, RunStatus.FAILED))
            .values("version__model__name", "kind", "status")
            .annotate(n=Count("id"), timed=Count("duration_seconds"), took=Sum("duration_seconds"))
            .order_by("version__model__name", "kind", "status")
        )
        counts: dict[tuple[str, str], int] = {}
        sums: dict[tuple[str, str], float] = {}
        for row in rows:
            key = (row["version__model__name"], row["kind"])
            totals.add_metric([*key, row["status"]], row["n"])
            counts[key] = counts.get(key, 0) + row["timed"]
            sums[key] = sums.get(key, 0.0) + (row["took"] or 0.0)
        for key, count in counts.items():
            durations.add_metric(list(key), count_value=count, sum_value=sums[key])
        yield from (durations, totals)


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitoringCollector())
    return generate_latest(registry)


def metrics_view(request):
    """Prometheus' scrape. Open unless METRICS_TOKEN is set; then `Authorization: Bearer …`."""
    expected = settings.METRICS_TOKEN
    if expected:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            response = HttpResponse("A bearer token (METRICS_TOKEN) is required.\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            response["Content-Type"] = "text/plain; charset=utf-8"
            return response
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)

"""The scheduled monitoring e-mail: daily or weekly per person (DigestPreference, weekly by
default), about the models they watch.

It tells each model's health (per monitor: critical, warning or ok from its open alerts), what
changed since the last e-mail (evaluations that ended, alerts opened and resolved), the open
alerts, and links. Charts are small PNGs drawn with kaleido, all of an e-mail's in ONE browser
session, attached inline (`cid:`); where no browser is installed (or it fails), the e-mail has
the same tables and links without pictures rather than not going out. It goes through the
notifications outbox, once per person and period (`dedupe_key`), with its retries.
"""

import base64
import logging
import tempfile
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audit.services import record
from notifications.models import Watch
from notifications.selectors import watched_models
from notifications.services import queue_email

from .datasets import serving_versions
from .figures import plain
from .models import (
    Alert,
    DatasetKind,
    DigestFrequency,
    DigestPreference,
    EvaluationRun,
    Level,
    RunStatus,
)

logger = logging.getLogger(__name__)

PERIODS = {DigestFrequency.DAILY: timedelta(days=1), DigestFrequency.WEEKLY: timedelta(days=7)}
# Beat looks every hour: an e-mail due a few minutes after the hour still goes at this one.
SLACK = timedelta(minutes=30)
CHART_DAYS = 30
CHART_POINTS = 60


def level_of(open_alerts: Iterable) -> str:
    """A monitor's health from its open alerts: critical if any is critical, warning if any
    is open, else "ok" (the one rule of the e-mail and the Monitoring tab)."""
    levels = {alert.level for alert in open_alerts}
    return Level.CRITICAL if Level.CRITICAL in levels else Level.WARNING if levels else "ok"


def health_of(model) -> list[dict]:
    """Each monitor of the model with its worst open alert's level, or "ok"."""
    return [
        {
            "name": monitor.name,
            "state": level_of(a for a in monitor.alerts.all() if a.resolved_at is None),
        }
        for monitor in model.monitors.all()
    ]


def rule_series(model, now) -> dict[str, list[tuple]]:
    """Each rule metric of the model's monitors across its finished runs on production batches
    whose data is of the last CHART_DAYS days (at most CHART_POINTS runs), placed at the time of
    their data as on the Monitoring tab, oldest first: `{metric: [(when, value)]}`."""
    metrics = sorted({r["metric"] for m in model.monitors.all() for r in m.rules})
    if not metrics:
        return {}
    window = list(
        EvaluationRun.objects.filter(
            version__model=model,
            status=RunStatus.DONE,
            dataset__kind=DatasetKind.BATCH,
            dataset__observed_at__gte=now - timedelta(days=CHART_DAYS),
        )
        .select_related("dataset")
        .only("version", "metrics", "dataset__observed_at", "dataset__checked_against")
        .order_by("-dataset__observed_at", "-finished_at")
    )
    # The production value: each batch as judged by the version that served it, not by a
    # staging version predicting for itself on the same data.
    served = serving_versions(model.pk, {run.dataset_id: run.dataset for run in window}.values())
    runs = [
        (run.dataset.observed_at, run.metrics)
        for run in window
        if served[run.dataset_id] == run.version_id
    ][:CHART_POINTS][::-1]
    series: dict[str, list[tuple]] = {}
    for metric in metrics:
        points = [
            (observed_at, value)
            for observed_at, run_metrics in runs
            if isinstance(
                value := ((run_metrics or {}).get("summary") or {}).get(metric), int | float
            )
        ]
        if points:
            series[metric] = points
    return series


LEVEL_COLOURS = {"warning": "#b54708", "critical": "#b42318"}


def _chart(model, series: dict[str, list[tuple]]) -> dict:
    """One line per metric, and its rules' warning and critical levels as dotted lines: a
    small figure that reads in an e-mail."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for metric, points in series.items():
        figure.add_trace(
            go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=plain(metric))
        )
    for monitor in model.monitors.all():
        for rule in monitor.rules:
            for level, colour in LEVEL_COLOURS.items():
                if rule["metric"] in series and rule.get(level) is not None:
                    figure.add_hline(
                        y=rule[level], line={"dash": "dot", "width": 1, "color": colour}
                    )
    figure.update_layout(
        title={"text": f"{plain(model.name)}: last {CHART_DAYS} days", "font": {"size": 13}},
        margin={"l": 40, "r": 10, "t": 30, "b": 30},
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return figure.to_plotly_json()


# A busy machine sometimes has kaleido ask its page to draw before the page's own scripts have
# loaded ("kaleido_scopes is not defined"): a second session draws.
RENDER_ATTEMPTS = 2


def render_pngs(figures: list[dict]) -> list[bytes] | None:
    """All figures drawn in one browser session; None where no browser can draw them."""
    browser = settings.KALEIDO_BROWSER_PATH
    if not figures or not browser or not Path(browser).exists():
        return None
    started = time.monotonic()
    for attempt in range(1, RENDER_ATTEMPTS + 1):
        try:
            images = _draw(figures, browser)
        except Exception:  # a browser that will not start must not stop the e-mail
            logger.exception(
                "Could not draw the monitoring e-mail's charts with %s (attempt %s of %s)",
                browser,
                attempt,
                RENDER_ATTEMPTS,
            )
            continue
        logger.info("Drew %s chart(s) in %.1f s", len(figures), time.monotonic() - started)
        return images
    return None


def _draw(figures: list[dict], browser: str) -> list[bytes]:
    import kaleido

    with tempfile.TemporaryDirectory(prefix="vetted-digest-") as folder:
        paths = [Path(folder) / f"{n}.png" for n in range(len(figures))]
        kaleido.write_fig_from_object_sync(
            [
                {
                    "fig": fig,
                    "path": str(path),
                    "opts": {"format": "png", "width": 560, "height": 220},
                }
                for fig, path in zip(figures, paths, strict=True)
            ],
            kopts={"path": browser, "mathjax": False, "timeout": 60},
            cancel_on_error=True,
        )
        return [path.read_bytes() for path in paths]


def build_digest(user: User, *, since, now) -> dict:
    """What one person's e-mail says: per watched model, health, changes and open alerts;
    plus the PNGs (`images`, by cid) when a browser could draw them."""
    site = settings.SITE_URL.rstrip("/")
    models = list(watched_models(user).prefetch_related("monitors__alerts"))
    sections, figures = [], []
    for model in models:
        alerts = Alert.objects.filter(monitor__model=model).select_related("monitor", "version")
        ended = EvaluationRun.objects.filter(
            version__model=model, finished_at__gte=since, finished_at__lt=now
        )
        section = {
            "model": model,
            "link": site + reverse("registry:model_detail", args=[model.name]),
            "alerts_link": site + reverse("monitoring:alerts") + f"?model={model.name}",
            "monitors": health_of(model),
            "open_alerts": list(alerts.filter(resolved_at__isnull=True)[:10]),
            "opened": alerts.filter(opened_at__gte=since, opened_at__lt=now).count(),
            "resolved": alerts.filter(resolved_at__gte=since, resolved_at__lt=now).count(),
            "runs_done": ended.filter(status=RunStatus.DONE).count(),
            "runs_failed": ended.filter(status=RunStatus.FAILED).count(),
            "cid": "",
        }
        series = rule_series(model, now)
        # The latest value of each metric: what the chart shows, as a table for any mail client.
        section["latest"] = [
            {"metric": metric, "value": points[-1][1], "when": points[-1][0]}
            for metric, points in series.items()
        ]
        if series:
            section["cid"] = f"chart-{model.pk}"
            figures.append((section, _chart(model, series)))
        sections.append(section)
    pngs = render_pngs([chart for _, chart in figures]) if figures else None
    images = []
    if pngs is None:
        for section, _ in figures:
            section["cid"] = ""
    else:
        for (section, _), png in zip(figures, pngs, strict=True):
            images.append({"cid": section["cid"], "png_base64": base64.b64encode(png).decode()})
    return {
        "person": user,
        "sections": sections,
        "since": since,
        "now": now,
        "images": images,
        "settings_link": site + reverse("monitoring:digest_settings"),
        "alerts_link": site + reverse("monitoring:alerts"),
    }


def send_digest(user: User, *, frequency: str, since, now) -> bool:
    """Queue one person's e-mail for the period ending now; True if it was queued (False if
    this period's went already or they watch nothing)."""
    content = build_digest(user, since=since, now=now)
    if not content["sections"]:
        return False
    period = (
        now.date().isoformat() if frequency == DigestFrequency.DAILY else now.strftime("%G-W%V")
    )
    subject = f"Monitoring, {'today' if frequency == DigestFrequency.DAILY else 'this week'}: "
    critical = sum(
        1 for s in content["sections"] for m in s["monitors"] if m["state"] == Level.CRITICAL
    )
    subject += f"{critical} critical monitor(s)" if critical else "all clear"
    with transaction.atomic():
        queued = queue_email(
            recipient=user,
            subject=subject,
            text_body=render_to_string("monitoring/digest_email.txt", content),
            html_body=render_to_string("monitoring/digest_email.html", content),
            dedupe_key=f"digest:{frequency}:{period}",
            inline_images=content["images"],
        )
        DigestPreference.objects.update_or_create(
            user=user, defaults={"last_sent_at": now, "frequency": frequency}
        )
    return queued


def send_due_digests(now=None) -> int:
    """Everyone who watches a model and whose daily or weekly e-mail is due gets it; returns
    how many were queued. Safe to run twice: a period's e-mail is queued once."""
    now = now or timezone.now()
    chosen = {p.user_id: p for p in DigestPreference.objects.all()}
    watchers = User.objects.filter(is_active=True, pk__in=Watch.objects.values("user_id")).exclude(
        email=""
    )
    queued = 0
    for user in watchers:
        preference = chosen.get(user.pk)
        frequency = preference.frequency if preference else DigestFrequency.WEEKLY
        if frequency == DigestFrequency.OFF:
            continue
        period = PERIODS[DigestFrequency(frequency)]
        last = preference.last_sent_at if preference else None
        if last is not None and now - last < period - SLACK:
            continue
        queued += send_digest(user, frequency=frequency, since=last or now - period, now=now)
    return queued


@transaction.atomic
def set_frequency(*, actor: User, frequency: str) -> DigestPreference:
    """The person's choice: daily, weekly or never."""
    preference, _ = DigestPreference.objects.get_or_create(user=actor)
    before = preference.frequency
    if frequency not in DigestFrequency.values:
        raise ValidationError(f"Frequency: one of {', '.join(DigestFrequency.values)}.")
    if before != frequency:
        preference.frequency = frequency
        preference.save(update_fields=["frequency"])
        record(
            actor=actor,
            verb="preferences.changed",
            object_type="user",
            object_id=actor.pk,
            object_name=actor.username,
            before={"monitoring_email": before},
            after={"monitoring_email": frequency},
        )
    return preference

"""What monitoring adds to other apps' pages: the model page's metrics-across-versions panel, a
version's evaluations on its page, the Monitoring tab beside Overview and History, and the
"evaluation" anchor that hangs a comment thread on a run's page. Registered in
MonitoringConfig.ready(); the registry and discussions never import monitoring.
"""

from django.urls import reverse

from discussions.anchors import Anchor, register_anchor
from registry.panels import Panel, Tab, register_panel, register_tab

from . import figures
from .models import EvaluationRun

ANCHOR_KIND = "evaluation"
MAX_METRIC_CHARTS = 12
VERSION_RUNS = 10


def versions_panel(*, request, model, version=None) -> dict | None:
    """A chart per metric the versions recorded when pushed, from the first push on (no
    evaluation needed); left out while no version recorded a number. One query."""
    versions = list(
        model.versions.only("id", "model", "number", "stage", "metrics").order_by("number")
    )
    counts: dict[str, int] = {}
    for each in versions:
        for name in each.metrics:  # numbers only: the registry refuses anything else
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return None
    # The metrics most versions report first: those are the comparable ones.
    names = sorted(counts, key=lambda name: (-counts[name], name))
    return {
        "charts": [
            (f"version-metric-{index}", figures.metrics_across_versions(versions, name))
            for index, name in enumerate(names[:MAX_METRIC_CHARTS])
        ],
        "not_charted": names[MAX_METRIC_CHARTS:],
    }


def version_runs_panel(*, request, model, version) -> dict | None:
    """The version's latest evaluations, each linking to its page; left out while it has none."""
    runs = list(
        EvaluationRun.objects.filter(version=version)
        .select_related("dataset")
        .defer("metrics", "dataset__schema", "dataset__missing")[:VERSION_RUNS]
    )
    return {"runs": runs} if runs else None


def evaluation_anchor(anchor_id: str) -> Anchor | None:
    """discussions' resolver of the "evaluation" anchor: its id is the run's id."""
    if not anchor_id.isascii() or not anchor_id.isdigit() or len(anchor_id) > 18:
        return None
    run = EvaluationRun.objects.select_related("version__model__team").filter(pk=anchor_id).first()
    return None if run is None else anchor_of(run)


def anchor_of(run: EvaluationRun) -> Anchor:
    model, number = run.version.model, run.version.number
    title = f"{run.get_kind_display()} evaluation #{run.pk} of {model.name} v{number}"
    return Anchor(model, reverse("monitoring:run", args=[run.pk]), title)


def register() -> None:
    register_panel(
        "model",
        Panel("monitoring", "monitoring/_versions_panel.html", versions_panel, order=20),
    )
    register_panel(
        "version",
        Panel("monitoring", "monitoring/_version_runs_panel.html", version_runs_panel, order=20),
    )
    register_tab(Tab("datasets", "Data", "monitoring:datasets", order=5))
    register_tab(Tab("monitoring", "Monitoring", "monitoring:model_monitoring", order=10))
    register_anchor(ANCHOR_KIND, resolve=evaluation_anchor)

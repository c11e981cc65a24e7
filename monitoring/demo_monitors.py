"""The demo's monitor: what makes an alert show on the fraud model's pages at `make run`'s first
start, over the drifted batches and the fairness gap of monitoring.demo (kept apart from
monitors.py so web processes never import the registry's demo and its scikit-learn)."""

from collections.abc import Callable

from django.contrib.auth.models import User

from registry.demo import DEMO_MODELS
from registry.models import RegisteredModel

from .models import EvaluationKind, Monitor
from .monitors import STAGES, create_monitor, request_runs

DEMO_MODEL = "fraud-detector"
DEMO_MONITOR = "Production health"
DEMO_RULES = [
    {"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8},
    {"metric": "share_drifted", "op": "<=", "warning": 0.2, "critical": 0.4},
    {"metric": "min_disparate_impact_ratio", "op": ">=", "warning": 0.8, "critical": 0.7},
]


def seed_demo_monitor(log: Callable[[str], None] = lambda line: None) -> list:
    """The demo's daily monitor of the fraud model, made by its DevOps person, and its first
    runs asked for at once: over monitoring.demo's drifted batches they open alerts as soon as
    the worker finishes them. Does nothing when the monitor exists or the model does not."""
    model = RegisteredModel.objects.filter(name=DEMO_MODEL).select_related("team").first()
    if model is None or Monitor.objects.filter(model=model, name=DEMO_MONITOR).exists():
        log(f"{DEMO_MODEL}: monitor up to date" if model else f"{DEMO_MODEL}: no model to watch")
        return []
    demo = next(d for d in DEMO_MODELS if d.name == DEMO_MODEL)
    monitor = create_monitor(
        actor=User.objects.get(username=demo.stager),
        model=model,
        name=DEMO_MONITOR,
        kinds=list(EvaluationKind.values),
        stages=list(STAGES),
        rules=DEMO_RULES,
    )
    runs = request_runs(monitor=monitor)
    log(f"{DEMO_MODEL}: monitor {DEMO_MONITOR!r}, {len(runs)} evaluation(s) queued")
    return runs

"""The demo's monitoring data: what `make run` shows on the fraud model's Data and Monitoring tabs.

A reference set, an evaluation set and four weeks of daily production batches, drawn from the
population the demo trains the fraud model on (registry.demo), so every upload matches the
model's signature. The batches carry the predictions and scores a live model made: gradient
boosting like the production version's, trained here on the reference rows, standing in for the
production service (no stored model is ever loaded outside the sandbox). From the third week on,
three features drift further each day, and customers aged 18-29 are flagged far more often than
the others: a fairness gap the four-fifths rule catches.
"""

import io
from collections.abc import Callable
from datetime import datetime, time, timedelta

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from django.utils import timezone
from sklearn.ensemble import GradientBoostingClassifier

from registry.demo import DEMO_MODELS, POPULATION_ROWS, DemoModel
from registry.models import LoadStatus, RegisteredModel, Stage
from reviews.models import Policy
from reviews.services import set_policy

from .datasets import store_dataset
from .models import Dataset, DatasetKind, EvaluationKind, Monitor, Trigger
from .monitors import STAGES, create_monitor, request_runs
from .services import evaluate_new_version, request_evaluation
from .tasks import run_evaluation

MODEL = "fraud-detector"
DAYS = 28
BATCH_ROWS = 400
REFERENCE_ROWS = 3000
EVALUATION_ROWS = 2000
DRIFT_STARTS_ON_DAY = 14
# Per drifting feature: how far it moves by the last day, in units of its own scale.
DRIFT = {"amount": 1.5, "merchant_risk": 1.2, "distance_from_home_km": 1.0}
AGE_BANDS = ["18-29", "30-49", "50+"]
AGE_BAND_SHARES = [0.3, 0.45, 0.25]
BIASED_BAND = "18-29"
# A second protected attribute, so the fairness evaluations show an intersection (age × region).
REGIONS = ["urban", "suburban", "rural"]
REGION_SHARES = [0.5, 0.3, 0.2]
PROTECTED = ["age_band", "region"]
BIAS = 0.25  # taken off the young customers' threshold: the gap the fairness evaluation finds
LABELS_LAG_DAYS = 3  # the last batches have no labels yet: chargebacks take days to arrive
SEED = 20261101


def seed_monitoring_demo(
    log: Callable[[str], None] = lambda line: None, today: datetime | None = None
) -> int:
    """Upload the fraud model's demo datasets unless it has some; returns how many it made."""
    model = RegisteredModel.objects.filter(name=MODEL).select_related("team").first()
    if model is None or Dataset.objects.filter(model=model).exists():
        log(f"{MODEL}: monitoring data up to date" if model else f"{MODEL}: no model to seed")
        return 0
    demo = next(d for d in DEMO_MODELS if d.name == MODEL)
    actor = User.objects.get(username=demo.pusher)
    rng = np.random.default_rng(SEED)
    rows = _population(demo, rng)
    reference = rows.iloc[:REFERENCE_ROWS]
    evaluation = rows.iloc[REFERENCE_ROWS : REFERENCE_ROWS + EVALUATION_ROWS]
    live = rows.iloc[REFERENCE_ROWS + EVALUATION_ROWS :]
    features = [f.name for f in demo.features]
    scorer = GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=SEED)
    scorer.fit(reference[features], reference[demo.target])

    def upload(frame: pd.DataFrame, kind: str, name: str, **fields) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        buffer.seek(0)
        store_dataset(actor=actor, model=model, file=buffer, filename=name, kind=kind, **fields)

    start = timezone.make_aware(
        datetime.combine((today or timezone.now()).date(), time()) - timedelta(days=DAYS)
    )
    upload(
        _scored(reference, scorer, features),
        DatasetKind.REFERENCE,
        "transactions-2026-09.parquet",
        observed_at=start - timedelta(days=30),
        label=demo.target,
        prediction="predicted",
        score="score",
        protected=PROTECTED,
    )
    upload(
        evaluation,
        DatasetKind.EVALUATION,
        "holdout-2026-10.parquet",
        observed_at=start - timedelta(days=1),
        label=demo.target,
        protected=PROTECTED,
    )
    for day in range(DAYS):
        batch = _drifted(live.iloc[day * BATCH_ROWS : (day + 1) * BATCH_ROWS], demo, day)
        batch = _scored(batch, scorer, features)
        labelled = day < DAYS - LABELS_LAG_DAYS
        seen = start + timedelta(days=day, hours=23)
        upload(
            batch if labelled else batch.drop(columns=demo.target),
            DatasetKind.BATCH,
            f"transactions-{seen:%Y-%m-%d}.parquet",
            observed_at=seen,
            label=demo.target if labelled else "",
            prediction="predicted",
            score="score",
            protected=PROTECTED,
        )
    log(f"{MODEL}: reference, evaluation and {DAYS} daily batches of monitoring data")
    return 2 + DAYS


def _population(demo: DemoModel, rng: np.random.Generator) -> pd.DataFrame:
    """Rows of the population the versions train on, none of which they trained on, with each
    customer's age band and region (kept beside the features, not used by the model)."""
    rows = REFERENCE_ROWS + EVALUATION_ROWS + DAYS * BATCH_ROWS
    raw, target = demo.generate(POPULATION_ROWS)
    raw, target = raw[-rows:], target[-rows:]  # the population's end: no version trained on it
    order = rng.permutation(len(target))
    # As the demo's training data: each feature `offset + scale * value`, to the cent.
    frame = pd.DataFrame(
        {
            f.name: np.round(f.offset + f.scale * raw[order, i], 2)
            for i, f in enumerate(demo.features)
        }
    )
    frame[demo.target] = target[order]
    frame["age_band"] = rng.choice(AGE_BANDS, size=len(frame), p=AGE_BAND_SHARES)
    frame["region"] = rng.choice(REGIONS, size=len(frame), p=REGION_SHARES)
    return frame


def _drifted(batch: pd.DataFrame, demo: DemoModel, day: int) -> pd.DataFrame:
    """From DRIFT_STARTS_ON_DAY on, the drifting features move a little further each day."""
    progress = max(0, day - DRIFT_STARTS_ON_DAY + 1) / (DAYS - DRIFT_STARTS_ON_DAY)
    if not progress:
        return batch
    scales = {f.name: f.scale for f in demo.features}
    batch = batch.copy()
    for name, shift in DRIFT.items():
        batch[name] = (batch[name] + progress * shift * scales[name]).round(2)
    return batch


def _scored(
    frame: pd.DataFrame, scorer: GradientBoostingClassifier, features: list[str]
) -> pd.DataFrame:
    """The live model's score and decision; the youngest customers are flagged at a lower score."""
    score = scorer.predict_proba(frame[features])[:, 1]
    threshold = np.where(frame["age_band"] == BIASED_BAND, 0.5 - BIAS, 0.5)
    return frame.assign(predicted=(score >= threshold).astype(int), score=score.round(4))


DEMO_MONITOR = "Production health"
DEMO_RULES = [
    {"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8},
    {"metric": "share_drifted", "op": "<=", "warning": 0.2, "critical": 0.4},
    {"metric": "min_disparate_impact_ratio", "op": ">=", "warning": 0.8, "critical": 0.7},
]


def seed_demo_monitor(log: Callable[[str], None] = lambda line: None) -> list:
    """The demo's daily monitor of the fraud model, made by its DevOps person, with four weeks
    of past runs on production (see _backfill), and its first runs asked for at once: over
    monitoring.demo's drifted batches they open alerts as soon as the worker finishes them.
    Does nothing when the monitor exists or the model does not."""
    model = RegisteredModel.objects.filter(name=MODEL).select_related("team").first()
    if model is None or Monitor.objects.filter(model=model, name=DEMO_MONITOR).exists():
        log(f"{MODEL}: monitor up to date" if model else f"{MODEL}: no model to watch")
        return []
    demo = next(d for d in DEMO_MODELS if d.name == MODEL)
    monitor = create_monitor(
        actor=User.objects.get(username=demo.stager),
        model=model,
        name=DEMO_MONITOR,
        kinds=list(EvaluationKind.values),
        stages=list(STAGES),
        rules=DEMO_RULES,
    )
    backfilled = _backfill(monitor)
    runs = request_runs(monitor=monitor)
    log(
        f"{MODEL}: monitor {DEMO_MONITOR!r}, {len(backfilled)} past weekly evaluation(s) run,"
        f" {len(runs)} evaluation(s) queued"
    )
    return runs


def _backfill(monitor: Monitor) -> list:
    """The production version's runs over each past week of batches, as the weekly schedule
    would have made them, evaluated here oldest week first: the timelines and the heatmap show
    the drift growing week by week, and the alerts open (and stay open) as the weeks went.
    Predictions come from the batches' own columns, so no model is loaded: a second or two."""
    production = monitor.model.versions.filter(stage=Stage.PRODUCTION).first()
    if production is None:
        return []
    production.model = monitor.model
    reference = Dataset.objects.filter(model=monitor.model, kind=DatasetKind.REFERENCE).first()
    batches = list(
        Dataset.objects.filter(model=monitor.model, kind=DatasetKind.BATCH).order_by("observed_at")
    )
    runs = []
    for start in range(0, len(batches), 7):
        week = batches[start : start + 7]
        inputs = {
            EvaluationKind.PERFORMANCE: [b for b in week if b.label_column],
            EvaluationKind.FAIRNESS: [b for b in week if b.label_column and b.protected_columns],
            EvaluationKind.DRIFT: week if reference is not None else [],
        }
        for kind, found in inputs.items():
            if not found:
                continue
            run, _ = request_evaluation(
                actor=None,
                version=production,
                kind=kind,
                dataset=found[-1],
                reference=reference if kind == EvaluationKind.DRIFT else None,
                trigger=Trigger.SCHEDULE,
                monitor=monitor,
                window=found[:-1],
            )
            run_evaluation(run.pk)  # what the worker does; its own later delivery does nothing
            runs.append(run)
    return runs


# The monitoring checks the fraud model's production policy asks for, beside reviews.demo's.
DEMO_POLICY_CHECKS = [
    {"kind": "evaluation_metric", "metric": "roc_auc", "op": ">=", "value": 0.85},
    {"kind": "drift_psi", "max_psi": 0.2},
    {"kind": "fairness_ratio", "min_ratio": 0.8},
]


def seed_demo_policy_checks(log: Callable[[str], None] = lambda line: None) -> list:
    """The fraud model's production policy (set by reviews.demo) gains the monitoring checks,
    so the open request shows its version's evaluations, with links to them. Versions whose
    load check passed before the evaluation data existed (none of their runs came from the
    upload) are evaluated now. Returns the checks added."""
    model = RegisteredModel.objects.filter(name=MODEL).select_related("team").first()
    policy = Policy.objects.filter(model=model, to_stage=Stage.PRODUCTION).first()
    if model is None or policy is None:
        log(f"{MODEL}: no production policy to add monitoring checks to")
        return []
    loaded = model.versions.filter(latest_load_check__status=LoadStatus.PASSED)
    for version in loaded.exclude(evaluation_runs__trigger=Trigger.UPLOAD):
        version.model = model
        evaluate_new_version(version)
    kinds = {check.get("kind") for check in policy.checks}
    missing = [check for check in DEMO_POLICY_CHECKS if check["kind"] not in kinds]
    if not missing:
        log(f"{MODEL}: production policy's monitoring checks up to date")
        return []
    owner = next(d for d in DEMO_MODELS if d.name == MODEL).pusher
    set_policy(
        actor=User.objects.get(username=owner),
        team=model.team,
        model=model,
        to_stage=Stage.PRODUCTION,
        required_approvals=policy.required_approvals,
        required_roles=policy.required_roles,
        author_may_approve=policy.author_may_approve,
        auto_merge=policy.auto_merge,
        checks=[*policy.checks, *missing],
        aliases=policy.aliases,
    )
    log(f"{MODEL}: production policy checks {len(missing)} evaluation result(s) too")
    return missing

"""The demo registry `make run` shows: two teams, six people and three scikit-learn models.

Data is generated locally (nothing is downloaded) and every version goes through
`services.register_version`, exactly like a push from CI. Seeding is idempotent: what exists is
kept, only what is missing is created, so `make run` can seed on every start.
"""

import hashlib
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from django.db import transaction
from sklearn import metrics
from sklearn.datasets import make_classification, make_friedman1
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

from accounts.models import Membership, Role, Team

from . import services
from .models import ModelVersion, RegisteredModel, Stage, TaskType

DEMO_PASSWORD = "vetted-demo"
# skops (MLflow's safe format) loads tree ensembles only when their node storage is trusted by
# name; these are the trees of the estimators below, which seeding trains itself.
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]

TEAMS = {"fraud": "Fraud", "growth": "Growth"}


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str
    team: str
    role: str
    is_owner: bool = False


PEOPLE = [
    Person("alice", "Alice Moreau", "fraud", Role.DATA_SCIENTIST, is_owner=True),
    Person("bob", "Bob Okafor", "fraud", Role.DEVOPS),
    Person("carol", "Carol Lindqvist", "fraud", Role.APP_DEVELOPER),
    Person("victor", "Victor Hale", "fraud", Role.VIEWER),
    Person("mallory", "Mallory Chen", "growth", Role.DATA_SCIENTIST),
]


@dataclass(frozen=True)
class Feature:
    """A generated column as `offset + scale * value`, so input examples read like real rows."""

    name: str
    offset: float
    scale: float


@dataclass(frozen=True)
class PlannedVersion:
    estimator: type
    hyperparameters: dict
    snapshot: str  # training data date; later snapshots hold more rows
    rows: int
    branch: str
    notes: str
    stage: str = Stage.NONE
    alias: str = ""


@dataclass(frozen=True)
class DemoModel:
    name: str
    team: str
    task_type: str
    description: str
    tags: list[str]
    repo: str
    data_prefix: str
    features: list[Feature]
    target: str
    generate: Callable[[int], tuple[np.ndarray, np.ndarray]]
    pusher: str
    stager: str
    versions: list[PlannedVersion] = field(default_factory=list)


# Every draw, whatever its size, is the start of one fixed population: a later snapshot holds more
# of the same rows, and the monitoring demo's data (the population's end) is never training data.
POPULATION_ROWS = 30_000


def _fraud_population(rows: int) -> tuple[np.ndarray, np.ndarray]:
    features, target = make_classification(
        n_samples=POPULATION_ROWS,
        n_features=10,
        n_informative=6,
        n_redundant=2,
        weights=[0.94],
        flip_y=0.01,
        class_sep=0.9,
        random_state=7,
    )
    return features[:rows], target[:rows]


def _churn_population(rows: int) -> tuple[np.ndarray, np.ndarray]:
    features, target = make_classification(
        n_samples=POPULATION_ROWS,
        n_features=8,
        n_informative=5,
        n_redundant=1,
        weights=[0.8],
        flip_y=0.03,
        class_sep=0.7,
        random_state=11,
    )
    return features[:rows], target[:rows]


def _house_population(rows: int) -> tuple[np.ndarray, np.ndarray]:
    # Friedman's function is non-linear, so the tree models beat the linear baseline here too.
    features, target = make_friedman1(
        n_samples=POPULATION_ROWS, n_features=7, noise=1.0, random_state=3
    )
    return features[:rows], 150_000 + 15_000 * target[:rows]


FRAUD_DESCRIPTION = """\
Scores card transactions for fraud **before authorisation**. The checkout service calls the
production version for every payment; scores above 0.8 go to manual review.

- **Input:** one row per transaction (amount, merchant risk, account history, device signals)
- **Output:** `1` for fraud, `0` for legitimate
- **Owner:** team Fraud (#fraud-ml on Slack)
"""

CHURN_DESCRIPTION = """\
Predicts which subscribers cancel within **30 days**, so the retention team can reach out first.
Runs nightly in batch over all active subscriptions.

- **Input:** usage, billing and support history per subscriber
- **Output:** `1` for likely to churn
"""

HOUSE_DESCRIPTION = """\
Estimates the sale price of a listing in **US dollars** for the "suggested price" hint shown to
sellers. Trained on closed sales of the last two years.
"""

DEMO_MODELS = [
    DemoModel(
        name="fraud-detector",
        team="fraud",
        task_type=TaskType.CLASSIFICATION,
        description=FRAUD_DESCRIPTION,
        tags=["payments", "real-time", "tabular"],
        repo="https://github.com/acme/fraud-models",
        data_prefix="fraud/transactions",
        features=[
            Feature("amount", 85.0, 40.0),
            Feature("merchant_risk", 0.3, 0.1),
            Feature("account_age_days", 700.0, 250.0),
            Feature("txn_count_24h", 4.0, 1.5),
            Feature("distance_from_home_km", 25.0, 10.0),
            Feature("avg_amount_30d", 70.0, 25.0),
            Feature("hour_of_day", 13.0, 4.0),
            Feature("failed_logins_7d", 1.0, 0.5),
            Feature("device_age_days", 300.0, 120.0),
            Feature("chargebacks_1y", 0.2, 0.1),
        ],
        target="is_fraud",
        generate=_fraud_population,
        pusher="alice",
        stager="bob",
        versions=[
            PlannedVersion(
                LogisticRegression,
                {"C": 1.0, "class_weight": "balanced", "max_iter": 500},
                "2026-09-01",
                3000,
                "main",
                "Baseline: **logistic regression** with balanced class weights.",
                stage=Stage.PRODUCTION,
            ),
            PlannedVersion(
                GradientBoostingClassifier,
                {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.1},
                "2026-10-01",
                4000,
                "main",
                "Switch to **gradient boosting**: better recall on card-not-present fraud.\n\n"
                "Retrained on the October snapshot.",
                stage=Stage.PRODUCTION,
                alias="champion",
            ),
            PlannedVersion(
                GradientBoostingClassifier,
                {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.08, "subsample": 0.8},
                "2026-11-01",
                5000,
                "main",
                "More trees, lower learning rate and row subsampling; November snapshot.",
                stage=Stage.STAGING,
            ),
            PlannedVersion(
                GradientBoostingClassifier,
                {"n_estimators": 40, "max_depth": 5, "learning_rate": 0.2},
                "2026-11-01",
                5000,
                "experiment/deeper-trees",
                "Experiment: deeper trees and a faster learning rate. Best offline scores so far; "
                "latency at checkout not measured yet.",
            ),
        ],
    ),
    DemoModel(
        name="churn-predictor",
        team="growth",
        task_type=TaskType.CLASSIFICATION,
        description=CHURN_DESCRIPTION,
        tags=["batch", "retention", "tabular"],
        repo="https://github.com/acme/growth-models",
        data_prefix="growth/subscribers",
        features=[
            Feature("tenure_months", 18.0, 8.0),
            Feature("monthly_spend", 42.0, 12.0),
            Feature("sessions_30d", 20.0, 6.0),
            Feature("support_tickets_90d", 1.0, 0.6),
            Feature("days_since_last_login", 6.0, 3.0),
            Feature("plan_changes_1y", 0.5, 0.3),
            Feature("discount_share", 0.1, 0.05),
            Feature("nps_score", 7.0, 1.5),
        ],
        target="churned",
        generate=_churn_population,
        pusher="mallory",
        stager="admin",
        versions=[
            PlannedVersion(
                LogisticRegression,
                {"C": 0.5, "max_iter": 500},
                "2026-09-15",
                2500,
                "main",
                "First churn model: **logistic regression**, L2 with `C=0.5`.",
                stage=Stage.PRODUCTION,
                alias="champion",
            ),
            PlannedVersion(
                RandomForestClassifier,
                {
                    "n_estimators": 40,
                    "max_depth": 6,
                    "min_samples_leaf": 10,
                    "class_weight": "balanced",
                },
                "2026-10-15",
                3000,
                "main",
                "**Random forest** with balanced class weights: finds twice as many churners.",
                stage=Stage.STAGING,
            ),
            PlannedVersion(
                RandomForestClassifier,
                {
                    "n_estimators": 80,
                    "max_depth": 9,
                    "min_samples_leaf": 5,
                    "class_weight": "balanced",
                },
                "2026-10-15",
                3000,
                "feature/more-trees",
                "Bigger forest. Slightly better AUC, twice the size on disk.",
            ),
        ],
    ),
    DemoModel(
        name="house-price",
        team="growth",
        task_type=TaskType.REGRESSION,
        description=HOUSE_DESCRIPTION,
        tags=["pricing", "marketplace", "tabular"],
        repo="https://github.com/acme/pricing-models",
        data_prefix="growth/closed-sales",
        features=[
            Feature("living_area_sqft", 900.0, 2400.0),
            Feature("lot_size_sqft", 2000.0, 9000.0),
            Feature("bedrooms", 1.0, 4.0),
            Feature("bathrooms", 1.0, 2.5),
            Feature("year_built", 1950.0, 70.0),
            Feature("distance_to_center_km", 1.0, 30.0),
            Feature("school_rating", 2.0, 8.0),
        ],
        target="price",
        generate=_house_population,
        pusher="mallory",
        stager="admin",
        versions=[
            PlannedVersion(
                Ridge,
                {"alpha": 1.0},
                "2026-08-31",
                1500,
                "main",
                "Linear baseline: **ridge regression**.",
                stage=Stage.PRODUCTION,
            ),
            PlannedVersion(
                GradientBoostingRegressor,
                {"n_estimators": 80, "max_depth": 3, "learning_rate": 0.1},
                "2026-09-30",
                2000,
                "main",
                "**Gradient boosting**; halves the error on large lots.",
                stage=Stage.PRODUCTION,
                alias="champion",
            ),
            PlannedVersion(
                HistGradientBoostingRegressor,
                {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15},
                "2026-10-31",
                2500,
                "main",
                "**Histogram gradient boosting** on the October snapshot; trains in a third of "
                "the time.",
                stage=Stage.STAGING,
            ),
        ],
    ),
]


# move_to_stage(version=, stage=, author=, mover=): how a new demo version reaches its stage.
StageMover = Callable[..., None]


def set_stage_directly(*, version: ModelVersion, stage: str, author: User, mover: User) -> None:
    # Seeding only (never reachable over HTTP): demo history, not a promotion.
    services.set_stage(actor=mover, version=version, stage=stage, via="seed")


def seed_demo(
    log: Callable[[str], None] = lambda line: None,
    move_to_stage: StageMover = set_stage_directly,
) -> dict[str, User]:
    """Create whatever part of the demo is missing; never changes or duplicates what exists.

    A higher app passes `move_to_stage` to move new versions its own way (reviews: through
    merged promotion requests). Returns the demo people by username.
    """
    teams = {slug: _team(slug, name) for slug, name in TEAMS.items()}
    users = {p.username: _person(p, teams[p.team]) for p in PEOPLE}
    users["admin"] = _admin()
    for demo in DEMO_MODELS:
        created = _seed_model(demo, teams[demo.team], users, move_to_stage)
        log(f"{demo.name}: {created} new version(s)" if created else f"{demo.name}: up to date")
    return users


def _team(slug: str, name: str) -> Team:
    team, _ = Team.objects.get_or_create(slug=slug, defaults={"name": name})
    return team


def _person(person: Person, team: Team) -> User:
    first, _, last = person.full_name.partition(" ")
    user, created = User.objects.get_or_create(
        username=person.username,
        defaults={
            "email": f"{person.username}@example.com",
            "first_name": first,
            "last_name": last,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(
        user=user, team=team, defaults={"role": person.role, "is_owner": person.is_owner}
    )
    return user


def _admin() -> User:
    user = User.objects.filter(username="admin").first()
    if user is None:
        user = User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
    return user


def _seed_model(
    demo: DemoModel, team: Team, users: dict[str, User], move_to_stage: StageMover
) -> int:
    model = RegisteredModel.objects.filter(name=demo.name).first()
    if model is None:
        model = services.create_model(
            actor=users[demo.pusher],
            name=demo.name,
            team=team,
            task_type=demo.task_type,
            description=demo.description,
            tags=demo.tags,
        )
    created = 0
    for index, planned in enumerate(demo.versions, start=1):
        key = f"seed-demo:{demo.name}:{index}"
        if ModelVersion.objects.filter(model=model, idempotency_key=key).exists():
            continue
        # Stages and aliases are set once, with their version, so a demo someone has since
        # changed in the browser stays as they left it.
        with transaction.atomic():
            version = _push_version(demo, model, planned, index, key, users[demo.pusher])
            stager = users[demo.stager]
            if planned.stage != Stage.NONE:
                move_to_stage(
                    version=version, stage=planned.stage, author=users[demo.pusher], mover=stager
                )
            if planned.alias:
                services.set_alias(actor=stager, version=version, alias=planned.alias)
        created += 1
    return created


def _training_frame(demo: DemoModel, rows: int) -> pd.DataFrame:
    raw_features, target = demo.generate(rows)
    frame = pd.DataFrame(
        {
            f.name: np.round(f.offset + f.scale * raw_features[:, i], 2)
            for i, f in enumerate(demo.features)
        }
    )
    frame[demo.target] = np.round(target, 2) if demo.task_type == TaskType.REGRESSION else target
    return frame


def _push_version(
    demo: DemoModel, model: RegisteredModel, planned: PlannedVersion, index: int, key: str, actor
) -> ModelVersion:
    frame = _training_frame(demo, planned.rows)
    data_sha256 = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    features, target = frame.drop(columns=demo.target), frame[demo.target]
    classify = demo.task_type == TaskType.CLASSIFICATION
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=0.25, random_state=0, stratify=target if classify else None
    )
    estimator = planned.estimator(**planned.hyperparameters)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=42)
    estimator.fit(x_train, y_train)
    scores = _classification_metrics if classify else _regression_metrics
    commit = hashlib.sha1(f"{demo.repo}@{index}".encode()).hexdigest()
    lineage = services.Lineage(
        description=planned.notes,
        git_repo=demo.repo,
        git_commit=commit,
        git_branch=planned.branch,
        ci_run_url=f"{demo.repo}/actions/runs/{11_500_000_000 + int(commit[:6], 16)}",
        training_data_uri=f"s3://acme-data/{demo.data_prefix}/{planned.snapshot}.csv",
        training_data_sha256=data_sha256,
        params={"estimator": planned.estimator.__name__, **planned.hyperparameters},
        metrics=scores(estimator, x_test, y_test),
    )
    with tempfile.TemporaryDirectory(prefix="vetted-demo-") as scratch:
        folder = Path(scratch) / "model"
        _save_mlflow_model(estimator, folder, x_train, x_test)
        with ExitStack() as files:
            upload = services.Upload(
                files=[
                    (path.relative_to(folder).as_posix(), files.enter_context(path.open("rb")))
                    for path in sorted(folder.rglob("*"))
                    if path.is_file()
                ]
            )
            version, _ = services.register_version(
                actor=actor, model=model, lineage=lineage, upload=upload, idempotency_key=key
            )
    return version


def _save_mlflow_model(estimator, folder: Path, x_train: pd.DataFrame, x_test: pd.DataFrame):
    import mlflow.sklearn  # imported late: mlflow is slow to import and only seeding needs it
    import sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        estimator,
        str(folder),
        serialization_format="skops",
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        signature=infer_signature(x_train, estimator.predict(x_train)),
        input_example=x_test.head(5),
        # Explicit requirements: inferring them would start a subprocess per model.
        pip_requirements=[
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
        ],
    )


def _classification_metrics(estimator, x_test, y_test) -> dict[str, float]:
    predicted = estimator.predict(x_test)
    probability = estimator.predict_proba(x_test)[:, 1]
    return {
        "accuracy": round(metrics.accuracy_score(y_test, predicted), 4),
        "precision": round(metrics.precision_score(y_test, predicted), 4),
        "recall": round(metrics.recall_score(y_test, predicted), 4),
        "f1": round(metrics.f1_score(y_test, predicted), 4),
        "roc_auc": round(metrics.roc_auc_score(y_test, probability), 4),
    }


def _regression_metrics(estimator, x_test, y_test) -> dict[str, float]:
    predicted = estimator.predict(x_test)
    return {
        "rmse": round(metrics.root_mean_squared_error(y_test, predicted), 2),
        "mae": round(metrics.mean_absolute_error(y_test, predicted), 2),
        "r2": round(metrics.r2_score(y_test, predicted), 4),
    }

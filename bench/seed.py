"""Bench data for Vetted, written straight into the bench database (never over HTTP).

`account` makes the bench team, user, token, session and the models the load tests hit, and
prints them as JSON; `catalog` bulk-inserts 1,000 models with 20,000 versions for the list and
page latencies. Run with the bench environment (DATABASE_URL …) set by bench/run.sh.
"""

import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetted.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from accounts import services as account_services  # noqa: E402
from accounts.models import Membership, Role, Team  # noqa: E402
from registry import services  # noqa: E402
from registry.models import (  # noqa: E402
    Artifact,
    LoadCheck,
    LoadStatus,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Stage,
    Tag,
)

CATALOG_MODELS = 1000
VERSIONS_PER_MODEL = 20
# Models the load tests use: pushes go round-robin over the 16 bench-push models (as they do in
# MLflow), bench-one takes every push of the contention test, bench-big the 1 GiB uploads, and
# bench-resolve has one version in production, aliased "champion".
LOAD_MODELS = (
    *(f"bench-push-{i:02d}" for i in range(16)),
    "bench-one",
    "bench-big",
    "bench-resolve",
)


def _session_key_for(user: User) -> str:
    """A logged-in session, as the login view would create it, for fetching pages."""
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def make_account() -> dict:
    team = Team.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user("bench", password="bench-password-not-secret")
    Membership.objects.create(user=user, team=team, role=Role.DEVOPS, is_owner=True)
    _, token = account_services.create_token(user=user, name="bench", scopes=["read", "write"])
    for name in LOAD_MODELS:
        services.create_model(actor=user, name=name, team=team, task_type="classification")
    resolve = RegisteredModel.objects.get(name="bench-resolve")
    version, _ = services.register_version(
        actor=user,
        model=resolve,
        lineage=services.Lineage(git_commit="ab" * 20, metrics={"auc": 0.91}),
        upload=services.Upload(files=[("model.pkl", io.BytesIO(b"bench weights"))]),
    )
    services.set_stage(actor=user, version=version, stage=Stage.PRODUCTION, via="seed")
    services.set_alias(actor=user, version=version, alias="champion")
    return {"token": token, "session": _session_key_for(user), "catalog_model": "catalog-0500"}


@transaction.atomic
def make_catalog() -> dict:
    team = Team.objects.get(slug="bench")
    user = User.objects.get(username="bench")
    tags = [Tag.objects.get_or_create(name=n)[0] for n in ("fraud", "churn", "ranking", "vision")]
    now = timezone.now()
    models = RegisteredModel.objects.bulk_create(
        RegisteredModel(
            name=f"catalog-{i:04d}",
            team=team,
            task_type="classification",
            description=f"Catalog model {i} for the list and page latencies.\n\n*Markdown* text.",
            created_by=user,
            updated_by=user,
            latest_version_number=VERSIONS_PER_MODEL,
        )
        for i in range(CATALOG_MODELS)
    )
    RegisteredModel.tags.through.objects.bulk_create(
        RegisteredModel.tags.through(registeredmodel_id=m.pk, tag_id=tags[i % len(tags)].pk)
        for i, m in enumerate(models)
    )

    def stage_of(number: int) -> str:
        if number == VERSIONS_PER_MODEL:
            return Stage.PRODUCTION
        if number == VERSIONS_PER_MODEL - 1:
            return Stage.STAGING
        return Stage.ARCHIVED if number > VERSIONS_PER_MODEL - 5 else Stage.NONE

    versions = ModelVersion.objects.bulk_create(
        (
            ModelVersion(
                model=m,
                number=n,
                stage=stage_of(n),
                description=f"Version {n}",
                git_repo="https://git.example.com/ml/catalog",
                git_commit=f"{m.pk * 100 + n:040x}",
                git_branch="main",
                training_data_uri=f"s3://data/catalog/{m.pk}/{n}.parquet",
                params={"max_depth": 6, "learning_rate": 0.1, "n_estimators": 100 + n},
                metrics={"auc": 0.8 + n / 1000, "f1": 0.7 + n / 1000},
                requirements=["scikit-learn==1.9.0", "mlflow-skinny==3.17.2"],
                flavors={"python_function": {"loader_module": "mlflow.sklearn"}},
                mlflow_version="3.17.2",
                created_by=user,
            )
            for m in models
            for n in range(1, VERSIONS_PER_MODEL + 1)
        ),
        batch_size=2000,
    )
    checks = LoadCheck.objects.bulk_create(
        (
            LoadCheck(
                version=v,
                status=LoadStatus.PASSED,
                queued_at=now,
                started_at=now,
                finished_at=now,
                load_seconds=0.4,
            )
            for v in versions
        ),
        batch_size=5000,
    )
    for version, check in zip(versions, checks, strict=True):
        version.latest_load_check = check
    ModelVersion.objects.bulk_update(versions, ["latest_load_check"], batch_size=2000)
    Artifact.objects.bulk_create(
        (
            Artifact(
                version=v,
                path="model.pkl",
                storage_name=f"versions/catalog/{v.pk}/model.pkl",
                size=123_456,
                sha256=f"{v.pk:064x}",
            )
            for v in versions
        ),
        batch_size=5000,
    )
    ModelAlias.objects.bulk_create(
        ModelAlias(model=v.model, name="champion", version=v, updated_by=user)
        for v in versions
        if v.number == VERSIONS_PER_MODEL
    )
    return {
        "models": RegisteredModel.objects.count(),
        "versions": ModelVersion.objects.count(),
    }


if __name__ == "__main__":
    commands = {"account": make_account, "catalog": make_catalog}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(commands)}}}")
    print(json.dumps(commands[sys.argv[1]]()))

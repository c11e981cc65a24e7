"""A database from before accounts/, audit/ and load-check rows migrates with nothing lost.

The database is taken back to the registry's migration 0005 (the schema the previous release
ran), filled through the historical models as the demo fills it, then migrated forward; what it
held is then read through today's models. Going back again restores the old columns.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

REGISTRY_BEFORE = ("registry", "0005_load_check_errored_and_isolation")
BEFORE = [REGISTRY_BEFORE, ("accounts", None), ("audit", None)]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def seed_the_old_schema(apps):
    user_model = apps.get_model("auth", "User")
    team = apps.get_model("registry", "Team").objects.create(name="Fraud", slug="fraud")
    alice = user_model.objects.create(username="alice")
    apps.get_model("registry", "Membership").objects.create(
        user=alice, team=team, role="data_scientist", is_owner=True
    )
    token = apps.get_model("registry", "ApiToken").objects.create(
        user=alice, name="ci", prefix="0123456789ab", secret_sha256="f" * 64, scopes=["read"]
    )
    model = apps.get_model("registry", "RegisteredModel").objects.create(
        name="fraud-detector", team=team, created_by=alice, latest_version_number=3
    )
    version_model = apps.get_model("registry", "ModelVersion")
    version_model.objects.create(
        model=model,
        number=1,
        stage="archived",
        created_by=alice,
        load_status="failed",
        load_error="ValueError: scaler not fitted",
    )
    version_model.objects.create(
        model=model,
        number=2,
        stage="production",
        created_by=alice,
        created_with_token=token,
        load_status="passed",
        load_seconds=0.42,
        load_prediction_shape=[3],
        load_isolation="bubblewrap: …",
    )
    version_model.objects.create(model=model, number=3, stage="staging", created_by=alice)


@pytest.mark.django_db(transaction=True)
def test_an_old_database_migrates_forward_and_back_without_losing_anything():
    leaves = latest()
    try:
        seed_the_old_schema(migrate(BEFORE))
        migrate(leaves)

        from accounts.models import ApiToken, Membership, Team
        from registry.models import ModelVersion, RegisteredModel

        model = RegisteredModel.objects.select_related("team").get(name="fraud-detector")
        assert model.team.slug == "fraud"
        assert Membership.objects.get(team__slug="fraud").role == "data_scientist"
        assert ApiToken.objects.get(prefix="0123456789ab").user.username == "alice"
        assert Team.objects.count() == 1

        versions = {
            v.number: v
            for v in ModelVersion.objects.select_related("latest_load_check", "created_with_token")
        }
        assert {n: v.stage for n, v in versions.items()} == {
            1: "archived",
            2: "production",
            3: "staging",
        }
        first, second, third = (versions[n].latest_load_check for n in (1, 2, 3))
        assert (first.status, first.error) == ("failed", "ValueError: scaler not fitted")
        assert (second.status, second.load_seconds, second.prediction_shape) == (
            "passed",
            0.42,
            [3],
        )
        assert second.isolation == "bubblewrap: …" and second.attempt == 1
        assert third.status == "pending" and third.finished_at is None
        assert versions[2].created_with_token.name == "ci"

        from audit.models import AuditEvent

        history = AuditEvent.objects.filter(channel="history").order_by("at", "id")
        assert sorted(e.verb for e in history) == [
            "load_check.finished",
            "load_check.finished",
            "model.created",
            "version.registered",
            "version.registered",
            "version.registered",
        ]
        assert {e.team_slug for e in history} == {"fraud"}

        old = migrate(BEFORE)
        old_version = old.get_model("registry", "ModelVersion").objects.get(number=2)
        assert (old_version.load_status, old_version.load_seconds) == ("passed", 0.42)
    finally:
        migrate(leaves)

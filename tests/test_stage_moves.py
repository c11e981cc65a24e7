"""The promotion state machine: its table, gates, one winner per race, events after commit.

Most tests here exercise the registry's machine on its own (`registry_alone`: without reviews'
gate, which sends staging and production through promotion requests; tests/test_reviews_*).
"""

import threading

import pytest
from django.db import connection

from audit.models import AuditEvent
from registry import services, stages
from registry.models import ModelVersion, Stage
from registry.stages import ALLOW, GateAnswer
from tests.promotions import promote
from tests.test_api_versions import push_archive


def move(client, number, stage, **extra):
    return client.post(
        f"/api/v1/models/iris/versions/{number}/stage/", {"stage": stage, **extra}, format="json"
    )


@pytest.fixture
def two_versions(api_as, alice, sklearn_model_dir):
    client = api_as(alice)
    for _ in range(2):
        assert push_archive(client, sklearn_model_dir).status_code == 201


@pytest.fixture
def gate():
    """Register a gate for one test, as reviews/ will in its AppConfig.ready()."""
    names = []

    def register(name, function):
        stages.register_gate(name, function)
        names.append(name)

    yield register
    for name in names:
        stages.unregister_gate(name)


def test_the_table_names_every_stage_and_no_move_to_itself():
    assert set(stages.TRANSITIONS) == set(Stage.values)
    for source, targets in stages.TRANSITIONS.items():
        assert source not in targets and targets <= set(Stage.values)
    assert Stage.PRODUCTION in stages.TRANSITIONS[Stage.ARCHIVED]  # rollback


def test_a_rollback_is_recorded_with_its_reason(api_as, alice, bob, two_versions):
    devops = api_as(bob)
    promote(ModelVersion.objects.get(number=1), "production", author=alice, approver=bob)
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)
    assert move(devops, 1, "production").status_code == 403  # a rollback needs its reason
    answer = move(devops, 1, "production", reason="v2 doubles false positives")
    assert answer.status_code == 200 and answer.json()["stage"] == "production"
    assert ModelVersion.objects.get(number=2).stage == "archived"
    rollback = AuditEvent.objects.filter(verb="stage.moved", object_name="iris v1").first()
    assert rollback.after == {"stage": "production", "rollback": True}
    assert rollback.reason == "v2 doubles false positives"
    announced = AuditEvent.objects.get(verb="stage.rollback")
    assert announced.before == {"production": 2} and announced.after == {"production": 1}


def test_a_gate_that_refuses_blocks_the_move_with_its_reason(
    api_as, bob, client, gate, two_versions, registry_alone
):
    def load_check_must_pass(*, actor, version, to_stage, **how):
        if to_stage == Stage.PRODUCTION and version.load_status != "passed":
            return GateAnswer(False, f"the load check of v{version.number} has not passed")
        return ALLOW

    gate("load-check", load_check_must_pass)
    answer = move(api_as(bob), 1, "production")
    assert answer.status_code == 403
    message = answer.json()["error"]["message"]
    assert "load-check: the load check of v1 has not passed" in message
    assert move(api_as(bob), 1, "staging").status_code == 200  # staging is not gated
    assert ModelVersion.objects.get(number=1).stage == "staging"

    client.force_login(bob)
    page = client.post("/models/iris/versions/1/stage/", {"stage": "production"})
    assert page.status_code == 403
    assert "the load check of v1 has not passed" in page.content.decode()
    assert ModelVersion.objects.get(number=1).stage == "staging"
    assert not AuditEvent.objects.filter(after__stage="production").exists()


def test_without_gates_every_move_of_the_table_goes_through(
    api_as, bob, two_versions, registry_alone
):
    devops = api_as(bob)
    for stage in ("staging", "production", "archived", "none"):
        assert move(devops, 1, stage).status_code == 200, stage


def test_domain_events_are_sent_after_commit_and_not_for_a_refused_move(
    api_as, bob, gate, two_versions, django_capture_on_commit_callbacks, registry_alone
):
    heard = []

    def listener(sender, **event):
        heard.append((event["version"].number, event["from_stage"], event["to_stage"]))

    stages.stage_moved.connect(listener)
    aliases = []
    stages.alias_changed.connect(lambda sender, **e: aliases.append(e["alias"]), weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert move(api_as(bob), 1, "staging", reason="smoke tests").status_code == 200
        assert heard == [(1, "none", "staging")]
        gate("closed", lambda **kw: GateAnswer(False, "change freeze"))
        with django_capture_on_commit_callbacks(execute=True):
            assert move(api_as(bob), 2, "staging").status_code == 403
        assert heard == [(1, "none", "staging")]
        with django_capture_on_commit_callbacks(execute=True):
            api_as(bob).put("/api/v1/models/iris/aliases/champion", {"version": 1}, format="json")
        assert aliases == ["champion"]
    finally:
        stages.stage_moved.disconnect(listener)
        stages.alias_changed.receivers.clear()
        stages.alias_changed.sender_receivers_cache.clear()


def race(clients_and_moves, gate):
    """Run the moves at once: a gate holds each until all have looked at the stages."""
    barrier = threading.Barrier(len(clients_and_moves), timeout=20)

    def everyone_has_looked(**how):
        barrier.wait()
        return ALLOW

    gate("race", everyone_has_looked)
    answers = [None] * len(clients_and_moves)

    def run(index, client, number, stage):
        try:
            answers[index] = move(client, number, stage)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, *args)) for i, args in enumerate(clients_and_moves)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(answer.status_code for answer in answers), answers


@pytest.mark.django_db(transaction=True)
def test_two_versions_racing_for_production_give_one_winner_and_one_conflict(
    needs_postgres, api_as, alice, bob, gate, sklearn_model_dir, registry_alone
):
    client = api_as(alice)
    for _ in range(2):
        assert push_archive(client, sklearn_model_dir).status_code == 201
    codes, answers = race([(api_as(bob), 1, "production"), (api_as(bob), 2, "production")], gate)
    assert codes == [200, 409]
    conflict = next(a for a in answers if a.status_code == 409).json()["error"]
    assert conflict["code"] == "conflict" and "try again" in conflict["message"]
    assert ModelVersion.objects.filter(stage="production").count() == 1
    assert AuditEvent.objects.filter(verb="stage.moved").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_move_twice_at_once_gives_one_winner_and_one_conflict(
    needs_postgres, api_as, alice, bob, gate, sklearn_model_dir, registry_alone
):
    assert push_archive(api_as(alice), sklearn_model_dir).status_code == 201
    codes, _ = race([(api_as(bob), 1, "staging"), (api_as(bob), 1, "production")], gate)
    assert codes == [200, 409]
    assert ModelVersion.objects.get(number=1).stage in ("staging", "production")
    assert AuditEvent.objects.filter(verb="stage.moved").count() == 1


def test_a_service_caller_gets_the_conflict_too(alice, bob, api_as, two_versions, registry_alone):
    stale = ModelVersion.objects.get(number=1)
    services.set_stage(actor=bob, version=ModelVersion.objects.get(number=1), stage="staging")
    with pytest.raises(stages.StageConflict):
        services.set_stage(actor=bob, version=stale, stage="production")


def test_an_alias_left_on_an_archived_version_is_flagged_in_the_api_and_the_page(
    api_as, bob, client, two_versions
):
    devops = api_as(bob)
    alice = ModelVersion.objects.get(number=1).created_by
    promote(ModelVersion.objects.get(number=1), "production", author=alice, approver=bob)
    devops.put("/api/v1/models/iris/aliases/champion", {"version": 1}, format="json")
    resolved = devops.get("/api/v1/models/iris/aliases/champion").json()
    assert resolved["warnings"] == []
    promote(ModelVersion.objects.get(number=2), "production", author=alice, approver=bob)

    resolved = devops.get("/api/v1/models/iris/aliases/champion").json()
    assert resolved["version"] == 1
    assert resolved["warnings"] == [
        "@champion points at version 1, which is archived: apps that resolve @champion get a"
        " version no longer in staging or production."
    ]
    assert devops.get("/api/v1/models/iris/versions/2/").json()["warnings"] == []
    client.force_login(bob)
    page = client.get("/models/iris/").content.decode()
    assert 'title="Apps resolving @champion get an archived version">archived</span>' in page

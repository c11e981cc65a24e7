"""The audit log: each registry state change leaves one event (test_audit_append_only: for good)."""

from datetime import timedelta

from django.utils import timezone

from audit.models import AuditEvent
from registry.models import ModelVersion
from registry.tasks import run_load_check
from tests.conftest import tar_gz_of


def push(client, folder, model="iris", **headers):
    response = client.post(
        f"/api/v1/models/{model}/versions/",
        {"team": "fraud", "archive": _archive(folder)},
        format="multipart",
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _archive(folder):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("m.tar.gz", tar_gz_of(folder))


def events(**filters) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(**filters)
        .order_by("id")
        .values_list("verb", "object_name", "actor_name", "channel", "before", "after")
    )


def test_each_registry_change_is_recorded_with_actor_channel_and_changes(
    api_as, alice, bob, sklearn_model_dir
):
    client = api_as(alice)
    token_event = AuditEvent.objects.get(verb="token.created", actor_name="alice")
    assert token_event.channel == "command" and token_event.after["scopes"] == ["read", "write"]

    push(client, sklearn_model_dir)
    response = client.patch("/api/v1/models/iris/", {"description": "Iris v2"}, format="json")
    assert response.status_code == 200
    push(client, sklearn_model_dir, **{"User-Agent": "vetted-cli/1.0"})

    devops = api_as(bob)
    assert (
        devops.post(
            "/api/v1/models/iris/versions/1/stage/", {"stage": "archived"}, format="json"
        ).status_code
        == 200
    )
    assert (
        devops.post(
            "/api/v1/models/iris/versions/2/stage/", {"stage": "archived"}, format="json"
        ).status_code
        == 200
    )
    assert devops.put("/api/v1/models/iris/aliases/champion", {"version": 1}, format="json")
    assert devops.put("/api/v1/models/iris/aliases/champion", {"version": 2}, format="json")
    assert devops.delete("/api/v1/models/iris/aliases/champion").status_code == 204

    recorded = events(model_name="iris")
    assert recorded == [
        ("model.created", "iris", "alice", "api", None, {
            "team": "fraud", "task_type": "other", "description": "", "tags": [],
        }),
        ("version.registered", "iris v1", "alice", "api", None, recorded[1][5]),
        ("model.edited", "iris", "alice", "api", {"description": ""}, {"description": "Iris v2"}),
        ("version.registered", "iris v2", "alice", "cli", None, recorded[3][5]),
        ("stage.moved", "iris v1", "bob", "api", {"stage": "none"}, {"stage": "archived"}),
        ("stage.moved", "iris v2", "bob", "api", {"stage": "none"}, {"stage": "archived"}),
        ("alias.set", "iris@champion", "bob", "api", None, {"version": 1}),
        ("alias.set", "iris@champion", "bob", "api", {"version": 1}, {"version": 2}),
        ("alias.removed", "iris@champion", "bob", "api", {"version": 2}, None),
    ]  # fmt: skip
    registered = AuditEvent.objects.get(verb="version.registered", object_name="iris v1")
    files = [path for path in sklearn_model_dir.rglob("*") if path.is_file()]
    assert registered.after["files"] == len(files)
    assert registered.token_name == "ci" and registered.token_id is not None
    assert registered.team_slug == "fraud"


def test_a_finished_load_check_is_recorded_as_the_task(api_as, alice, sklearn_model_dir):
    push(api_as(alice), sklearn_model_dir)
    version = ModelVersion.objects.get()
    run_load_check.apply(args=[version.latest_load_check_id])
    event = AuditEvent.objects.get(verb="load_check.finished")
    assert event.channel == "task" and event.actor_name == "" and event.object_name == "iris v1"
    assert event.after["status"] == "passed"


def test_a_stage_move_in_the_browser_is_the_web_channel(
    client, api_as, alice, bob, sklearn_model_dir
):
    push(api_as(alice), sklearn_model_dir)
    client.force_login(bob)
    response = client.post("/models/iris/versions/1/stage/", {"stage": "archived"})
    assert response.status_code in (200, 302)
    assert events(verb="stage.moved") == [
        ("stage.moved", "iris v1", "bob", "web", {"stage": "none"}, {"stage": "archived"})
    ]


def test_a_refused_change_leaves_no_event(api_as, alice, people, sklearn_model_dir):
    push(api_as(alice), sklearn_model_dir)
    app_developer = api_as(people["carol"])
    before = AuditEvent.objects.count()
    response = app_developer.post(
        "/api/v1/models/iris/versions/1/stage/", {"stage": "production"}, format="json"
    )
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before


def test_tokens_created_and_revoked_in_the_page_are_recorded(client, alice):
    client.force_login(alice)
    client.post("/settings/tokens/", {"name": "laptop", "scopes": ["read"]})
    token = alice.api_tokens.get(name="laptop")
    client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert [(e[0], e[3]) for e in events(actor_name="alice")] == [
        ("token.created", "web"),
        ("token.revoked", "web"),
    ]


def test_the_api_lists_events_with_filters(api_as, alice, bob, people, sklearn_model_dir):
    client = api_as(alice)
    push(client, sklearn_model_dir)
    api_as(bob).post("/api/v1/models/iris/versions/1/stage/", {"stage": "archived"}, format="json")

    listed = client.get("/api/v1/audit/", {"model": "iris"}).json()
    verbs = [e["verb"] for e in listed["results"]]
    assert verbs == ["stage.moved", "version.registered", "model.created"]
    newest = listed["results"][0]
    assert newest["actor"] == "bob" and newest["channel"] == "api" and newest["team"] == "fraud"
    assert newest["object"] == {"type": "version", "id": newest["object"]["id"], "name": "iris v1"}
    assert newest["before"] == {"stage": "none"} and newest["token"]["name"] == "ci"

    by_bob = client.get("/api/v1/audit/?actor=bob").json()["results"]
    assert [e["verb"] for e in by_bob] == ["stage.moved"]  # bob's own token is his alone
    assert client.get("/api/v1/audit/?verb=stage.moved").json()["count"] == 1
    assert client.get("/api/v1/audit/?team=growth").json()["count"] == 0
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/v1/audit/", {"since": later}).json()["count"] == 0
    assert client.get("/api/v1/audit/", {"until": later}).json()["count"] >= 2

    # mallory is in another team: fraud's events are not hers to read.
    others = api_as(people["mallory"]).get("/api/v1/audit/").json()["results"]
    assert all(e["team"] != "fraud" for e in others)

    bad = client.get("/api/v1/audit/?since=yesterday")
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["error"]["message"]


def test_the_audit_page_lists_a_models_history_with_filters(
    client, api_as, alice, bob, people, sklearn_model_dir
):
    push(api_as(alice), sklearn_model_dir)
    api_as(bob).post(
        "/api/v1/models/iris/versions/1/stage/",
        {"stage": "archived", "reason": "smoke tests passed"},
        format="json",
    )
    client.force_login(alice)
    html = client.get("/audit/?model=iris").content.decode()
    assert "stage.moved" in html and "version.registered" in html and "model.created" in html
    assert "smoke tests passed" in html and "stage: none</span> → stage: archived" in html
    only_bob = client.get("/audit/?actor=bob").content.decode().split("<tbody>", 1)[1]
    assert "stage.moved" in only_bob and "version.registered" not in only_bob
    bad = client.get("/audit/?since=yesterday")
    assert bad.status_code == 400 and "ISO 8601" in bad.content.decode()

    client.force_login(people["mallory"])
    assert "iris" not in client.get("/audit/").content.decode()

"""Apps resolve a stage or an alias: the answer is cached, and it follows every change at once."""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import ModelVersion
from registry.tasks import run_load_check
from tests.conftest import a_model_file, tar_gz_of
from tests.promotions import promote


@pytest.fixture
def three_versions(api_as, alice):
    client = api_as(alice)
    for _ in range(3):
        response = client.post(
            "/api/v1/models/m/versions/",
            {"team": "fraud", "files": [a_model_file()]},
            format="multipart",
        )
        assert response.status_code == 201


def to_production(model: str, number: int) -> None:
    """Through a request alice opens and bob (DevOps) approves and merges."""
    version = ModelVersion.objects.get(model__name=model, number=number)
    people = {u.username: u for u in User.objects.filter(username__in=["alice", "bob"])}
    promote(version, "production", author=people["alice"], approver=people["bob"])


def resolved(client, what: str) -> int | None:
    response = client.get(f"/api/v1/models/m/{what}")
    return response.json()["version"] if response.status_code == 200 else response.status_code


def test_a_resolved_stage_follows_each_promotion(api_as, alice, bob, people, three_versions):
    devops, app = api_as(bob), api_as(people["carol"])
    assert resolved(app, "stages/production") == 404

    to_production("m", 1)
    assert resolved(app, "stages/production") == 1
    assert resolved(app, "stages/production") == 1  # now from the cache

    # An edit of the model between two promotions must not bring an old answer back.
    api_as(alice).patch("/api/v1/models/m/", {"description": "Fraud scores"}, format="json")
    to_production("m", 2)
    assert resolved(app, "stages/production") == 2
    devops.post("/api/v1/models/m/versions/2/stage/", {"stage": "archived"})
    assert resolved(app, "stages/production") == 404
    to_production("m", 3)
    assert resolved(app, "stages/production") == 3


def test_a_resolved_alias_follows_each_move_and_its_removal(api_as, bob, people, three_versions):
    devops, app = api_as(bob), api_as(people["carol"])
    devops.put("/api/v1/models/m/aliases/champion", {"version": 1}, format="json")
    assert resolved(app, "aliases/champion") == 1

    devops.put("/api/v1/models/m/aliases/champion", {"version": 3}, format="json")
    assert resolved(app, "aliases/champion") == 3
    assert app.get("/api/v1/models/m/aliases/champion").json()["aliases"] == ["champion"]

    devops.delete("/api/v1/models/m/aliases/champion")
    assert resolved(app, "aliases/champion") == 404


def test_a_resolved_version_shows_its_load_check_as_soon_as_it_ends(
    api_as, alice, bob, sklearn_model_dir
):
    pushed = api_as(alice).post(
        "/api/v1/models/iris/versions/",
        {"team": "fraud", "archive": SimpleUploadedFile("m.tar.gz", tar_gz_of(sklearn_model_dir))},
        format="multipart",
    )
    assert pushed.status_code == 201
    devops = api_as(bob)
    to_production("iris", 1)
    assert resolved_check(devops) == "pending"

    run_load_check(ModelVersion.objects.get(number=1).latest_load_check_id)
    check = devops.get("/api/v1/models/iris/stages/production").json()["load_check"]
    assert check["status"] == "passed", check["error"]
    assert check["prediction_shape"] == [3]


def resolved_check(client) -> str:
    return client.get("/api/v1/models/iris/stages/production").json()["load_check"]["status"]


def test_a_poller_gets_304_until_the_answer_changes(api_as, bob, people, three_versions):
    app = api_as(people["carol"])
    to_production("m", 1)
    first = app.get("/api/v1/models/m/stages/production")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"

    again = app.get("/api/v1/models/m/stages/production", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    several = app.get(
        "/api/v1/models/m/stages/production", headers={"If-None-Match": f'"older", {etag}'}
    )
    assert several.status_code == 304

    to_production("m", 2)
    moved = app.get("/api/v1/models/m/stages/production", headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert moved.headers["ETag"] != etag


def test_a_cached_answer_is_never_shown_to_someone_outside_the_team(
    api_as, bob, people, three_versions
):
    devops = api_as(bob)
    to_production("m", 1)
    assert resolved(devops, "stages/production") == 1  # cached for the team

    outsider = api_as(people["mallory"])
    response = outsider.get("/api/v1/models/m/stages/production")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No model named 'm'."
    assert outsider.get("/api/v1/models/m/aliases/champion").status_code == 404


def test_download_urls_name_the_host_the_app_asked(api_as, bob, three_versions, settings):
    settings.ALLOWED_HOSTS = ["registry.internal", "testserver"]
    devops = api_as(bob)
    to_production("m", 1)
    here = devops.get("/api/v1/models/m/stages/production").json()["url"]
    there = devops.get(
        "/api/v1/models/m/stages/production", headers={"Host": "registry.internal"}
    ).json()["url"]
    assert here == "http://testserver/api/v1/models/m/versions/1/"
    assert there == "http://registry.internal/api/v1/models/m/versions/1/"

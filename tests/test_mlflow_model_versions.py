"""MLflow's model-version, alias and stage endpoints under /mlflow/, as MLflow's client calls them.

Runs, logged models and their files are logged through the tracking and artifact endpoints, as
MLflow's client logs them; versions are made from them by model-versions/create.
"""

import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from mlflow_api import artifact_store
from mlflow_api.models import LoggedModel, Run, VersionSource
from registry import services
from registry.models import Artifact, ModelAlias, ModelVersion, Stage
from tests.page_factories import assert_strict_page, count_queries
from tests.promotions import promote

API = "/mlflow/api/2.0/mlflow"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Mlflow:
    """An MLflow client's requests: GET parameters in the query, everything else as JSON."""

    def __init__(self, token: str):
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def call(self, method: str, path: str, **params):
        url = f"{API}/{path}"
        if method == "GET":
            return self.client.get(url, params, **self.auth)
        send = getattr(self.client, method.lower())
        return send(url, json.dumps(params), content_type="application/json", **self.auth)

    def ok(self, method: str, path: str, **params) -> dict:
        response = self.call(method, path, **params)
        assert response.status_code == 200, response.content
        return response.json()

    def error(self, method: str, path: str, status: int, code: str, **params) -> str:
        response = self.call(method, path, **params)
        assert response.status_code == status, response.content
        body = response.json()
        assert body["error_code"] == code, body
        return body["message"]


@pytest.fixture
def mlflow_as(token_for):
    def make(user, scopes="read,write") -> Mlflow:
        return Mlflow(token_for(user, scopes))

    return make


@pytest.fixture
def model(alice, teams):
    return services.create_model(actor=alice, name="fraud-detector", team=teams["fraud"])


ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"


def upload(client: Mlflow, root_uri: str, folder: str, files: dict[str, bytes]) -> None:
    """PUT each file under an artifact root, as MLflow's client logs artifacts."""
    root = root_uri.removeprefix("mlflow-artifacts:/")
    for path, content in files.items():
        relpath = f"{folder}/{path}" if folder else path
        answer = client.client.put(
            f"{ARTIFACTS}/{root}/{relpath}",
            content,
            content_type="application/octet-stream",
            **client.auth,
        )
        assert answer.status_code == 200, answer.content


def model_files(sklearn_model_dir) -> dict[str, bytes]:
    return {
        str(path.relative_to(sklearn_model_dir)): path.read_bytes()
        for path in sorted(sklearn_model_dir.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def tracking(mlflow_as, alice) -> Mlflow:
    """Alice's MLflow client, logging her training."""
    return mlflow_as(alice)


@pytest.fixture
def run(tracking):
    """A training run as MLflow's client logs it: params, metrics, git tags, a dataset."""
    experiment_id = tracking.ok("POST", "experiments/create", name="fraud-training")[
        "experiment_id"
    ]
    created = tracking.ok(
        "POST",
        "runs/create",
        experiment_id=experiment_id,
        run_name="bright-owl-42",
        tags=[
            {"key": "mlflow.source.git.commit", "value": COMMIT},
            {"key": "mlflow.source.git.branch", "value": "main"},
            {"key": "mlflow.source.git.repoURL", "value": "https://git.example/fraud/model.git"},
        ],
    )
    run_id = created["run"]["info"]["run_id"]
    tracking.ok(
        "POST",
        "runs/log-batch",
        run_id=run_id,
        params=[{"key": "C", "value": "1.0"}, {"key": "max_iter", "value": "500"}],
        metrics=[
            {"key": "auc", "value": 0.91, "timestamp": 1, "step": 0},
            {"key": "auc", "value": 0.93, "timestamp": 2, "step": 1},
        ],
    )
    tracking.ok(
        "POST",
        "runs/log-inputs",
        run_id=run_id,
        datasets=[
            {
                "tags": [{"key": "mlflow.data.context", "value": "training"}],
                "dataset": {
                    "name": "transactions-2026-11",
                    "digest": "a1b2c3",
                    "source_type": "local",
                    "source": json.dumps({"uri": "s3://data/transactions.parquet"}),
                },
            }
        ],
    )
    return Run.objects.get(run_id=run_id)


@pytest.fixture
def logged_model(tracking, run, sklearn_model_dir):
    """MLflow 3's log_model: a logged model of the run, its files at its own root."""
    created = tracking.ok(
        "POST",
        "logged-models",
        experiment_id=str(run.experiment_id),
        name="model",
        source_run_id=run.run_id,
        params=[{"key": "threshold", "value": "0.4"}],
    )
    found = LoggedModel.objects.get(model_id=created["model"]["info"]["model_id"])
    upload(
        tracking,
        artifact_store.logged_model_artifact_uri(found),
        "",
        model_files(sklearn_model_dir),
    )
    return found


@pytest.fixture
def run_with_model(tracking, run, sklearn_model_dir):
    """MLflow 2's log_model: the model's files in the run's own artifacts, under `model/`."""
    upload(tracking, artifact_store.run_artifact_uri(run), "model", model_files(sklearn_model_dir))
    return run


def versions_of(model) -> list[int]:
    return list(
        ModelVersion.objects.filter(model=model).order_by("number").values_list("number", flat=True)
    )


# --- create ---------------------------------------------------------------------------------


def test_a_logged_model_becomes_a_ready_version_with_its_runs_lineage(
    mlflow_as, alice, model, logged_model, sklearn_model_dir
):
    answer = mlflow_as(alice).ok(
        "POST",
        "model-versions/create",
        name="fraud-detector",
        source=f"models:/{logged_model.model_id}",
        run_id=logged_model.source_run.run_id,
        model_id=logged_model.model_id,
        tags=[{"key": "team.note", "value": "first"}],
    )["model_version"]

    assert answer["version"] == "1"
    assert answer["status"] == "READY"
    assert answer["current_stage"] == "None"
    assert answer["source"] == f"models:/{logged_model.model_id}"
    assert answer["run_id"] == logged_model.source_run.run_id
    assert answer["model_id"] == logged_model.model_id
    assert answer["user_id"] == "alice"
    tags = {tag["key"]: tag["value"] for tag in answer["tags"]}
    assert tags["team.note"] == "first"
    assert tags["vetted.load_check"] == "pending"
    version = ModelVersion.objects.get(model=model, number=1)
    files = model_files(sklearn_model_dir)
    assert {a.path: a.sha256 for a in version.artifacts.all()} == {
        path: hashlib.sha256(content).hexdigest() for path, content in files.items()
    }
    assert version.git_commit == COMMIT
    assert version.git_branch == "main"
    assert version.git_repo == "https://git.example/fraud/model.git"
    assert version.params == {"C": "1.0", "max_iter": "500", "threshold": "0.4"}
    assert version.metrics == {"auc": 0.93}
    assert version.flavors and "sklearn" in version.flavors
    assert version.training_data_uri == "s3://data/transactions.parquet"
    assert version.mlflow_source.datasets[0]["name"] == "transactions-2026-11"
    assert version.latest_load_check.status == "pending"
    logged_model.refresh_from_db()
    assert json.loads(logged_model.tags["mlflow.modelVersions"]) == [
        {"name": "fraud-detector", "version": "1"}
    ]


def test_the_files_are_a_copy_the_staged_run_can_no_longer_change(
    mlflow_as, alice, model, logged_model
):
    mlflow_as(alice).ok(
        "POST",
        "model-versions/create",
        name="fraud-detector",
        source=f"models:/{logged_model.model_id}",
    )
    upload(
        mlflow_as(alice),
        artifact_store.logged_model_artifact_uri(logged_model),
        "",
        {"MLmodel": b"changed afterwards"},
    )

    version = ModelVersion.objects.get(model=model, number=1)
    mlmodel = version.artifacts.get(path="MLmodel")
    staged = artifact_store.staged_files(logged_model, "MLmodel")[0][1]
    assert mlmodel.storage_name != staged
    with services.artifact_storage().open(mlmodel.storage_name) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == mlmodel.sha256


def test_a_runs_uri_registers_the_files_under_its_path_and_numbers_go_on(
    mlflow_as, alice, model, run_with_model, sklearn_model_dir
):
    client = mlflow_as(alice)
    for expected in ("1", "2"):
        answer = client.ok(
            "POST",
            "model-versions/create",
            name="fraud-detector",
            source=f"runs:/{run_with_model.run_id}/model",
            run_id=run_with_model.run_id,
        )["model_version"]
        assert answer["version"] == expected
    paths = set(Artifact.objects.filter(version__number=2).values_list("path", flat=True))
    assert paths == set(model_files(sklearn_model_dir))
    assert "model_id" not in answer


def test_a_runs_uri_finds_the_logged_model_named_by_its_path(mlflow_as, alice, model, logged_model):
    answer = mlflow_as(alice).ok(
        "POST",
        "model-versions/create",
        name="fraud-detector",
        source=f"runs:/{logged_model.source_run.run_id}/model",
    )["model_version"]

    assert answer["model_id"] == logged_model.model_id
    assert ModelVersion.objects.get(model=model).artifacts.filter(path="MLmodel").exists()


def test_an_mlflow_artifacts_uri_inside_a_run_registers_those_files(
    mlflow_as, alice, model, run_with_model
):
    source = f"{artifact_store.run_artifact_uri(run_with_model)}/model"
    answer = mlflow_as(alice).ok(
        "POST", "model-versions/create", name="fraud-detector", source=source
    )["model_version"]

    assert answer["source"] == source
    assert answer["run_id"] == run_with_model.run_id
    assert ModelVersion.objects.get(model=model).artifacts.filter(path="MLmodel").exists()


def test_copying_a_version_keeps_its_files_and_lineage(mlflow_as, alice, model, logged_model):
    client = mlflow_as(alice)
    client.ok(
        "POST",
        "model-versions/create",
        name="fraud-detector",
        source=f"models:/{logged_model.model_id}",
    )

    answer = client.ok(
        "POST", "model-versions/create", name="fraud-detector", source="models:/fraud-detector/1"
    )["model_version"]

    first, second = ModelVersion.objects.filter(model=model).order_by("number")
    assert answer["version"] == "2"
    assert answer["run_id"] == logged_model.source_run.run_id
    assert second.git_commit == first.git_commit
    assert sorted(second.artifacts.values_list("path", "sha256")) == sorted(
        first.artifacts.values_list("path", "sha256")
    )


@pytest.mark.parametrize(
    "source",
    [
        "/home/alice/mlruns/0/abc/artifacts/model",
        "file:///tmp/model",
        "s3://bucket/model",
        "http://elsewhere.example/model",
        "mlflow-artifacts://elsewhere.example/1/abc/artifacts/model",
        "mlflow-artifacts:/1/abc/artifacts/model",
        "runs:/0123456789abcdef0123456789abcdef/model",
        "models:/m-doesnotexist",
        "models:/fraud-detector",
    ],
)
def test_sources_vetted_does_not_hold_are_refused_and_nothing_is_stored(
    mlflow_as, alice, model, source
):
    message = mlflow_as(alice).error(
        "POST",
        "model-versions/create",
        400,
        "INVALID_PARAMETER_VALUE",
        name="fraud-detector",
        source=source,
    )

    assert "Vetted" in message or "models:/" in message
    assert versions_of(model) == []


def test_a_path_leaving_the_run_is_refused(mlflow_as, alice, model, run_with_model):
    root = artifact_store.run_artifact_uri(run_with_model)
    for source in (f"{root}/../../x", f"runs:/{run_with_model.run_id}/../model"):
        mlflow_as(alice).error(
            "POST",
            "model-versions/create",
            400,
            "INVALID_PARAMETER_VALUE",
            name="fraud-detector",
            source=source,
        )
    assert versions_of(model) == []


def test_a_run_without_files_there_registers_nothing(mlflow_as, alice, model, run):
    message = mlflow_as(alice).error(
        "POST",
        "model-versions/create",
        400,
        "INVALID_PARAMETER_VALUE",
        name="fraud-detector",
        source=f"runs:/{run.run_id}/model",
    )
    assert "holds no files" in message
    assert versions_of(model) == []


def test_another_teams_run_is_not_a_source(mlflow_as, people, teams, logged_model):
    mallory = people["mallory"]
    services.create_model(actor=mallory, name="growth-model", team=teams["growth"])
    client = mlflow_as(mallory)
    for source in (
        f"models:/{logged_model.model_id}",
        f"runs:/{logged_model.source_run.run_id}/model",
        artifact_store.logged_model_artifact_uri(logged_model),
    ):
        client.error(
            "POST",
            "model-versions/create",
            400,
            "INVALID_PARAMETER_VALUE",
            name="growth-model",
            source=source,
        )
    assert not ModelVersion.objects.filter(model__name="growth-model").exists()


def test_vetted_tags_sent_at_create_give_way_to_vetted_own(mlflow_as, alice, model, logged_model):
    # MLflow's copy_model_version sends the source version's tags back, vetted.* among them.
    created = mlflow_as(alice).ok(
        "POST",
        "model-versions/create",
        name="fraud-detector",
        source=f"models:/{logged_model.model_id}",
        tags=[{"key": "vetted.load_check", "value": "passed"}, {"key": "team", "value": "risk"}],
    )["model_version"]

    tags = {tag["key"]: tag["value"] for tag in created["tags"]}
    assert tags == {"team": "risk", "vetted.load_check": "pending"}


def test_create_needs_a_model_the_caller_sees_and_the_write_scope(
    mlflow_as, alice, people, model, logged_model
):
    source = f"models:/{logged_model.model_id}"
    mlflow_as(people["mallory"]).error(
        "POST",
        "model-versions/create",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        name="fraud-detector",
        source=source,
    )
    mlflow_as(alice, "read").error(
        "POST",
        "model-versions/create",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        source=source,
    )
    mlflow_as(people["carol"]).error(
        "POST",
        "model-versions/create",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        source=source,
    )
    mlflow_as(alice).error(
        "POST", "model-versions/create", 400, "INVALID_PARAMETER_VALUE", name="fraud-detector"
    )
    assert versions_of(model) == []


@pytest.mark.django_db(transaction=True)
def test_parallel_creates_number_the_versions_1_to_n(
    needs_postgres, live_server, alice, token_for, model, logged_model
):
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    body = {"name": "fraud-detector", "source": f"models:/{logged_model.model_id}"}

    def create(_) -> str:
        answer = httpx.post(
            f"{live_server.url}{API}/model-versions/create", json=body, headers=headers, timeout=120
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["model_version"]["version"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = sorted(pool.map(create, range(4)), key=int)

    assert numbers == ["1", "2", "3", "4"]
    assert versions_of(model) == [1, 2, 3, 4]
    listed = json.loads(LoggedModel.objects.get(pk=logged_model.pk).tags["mlflow.modelVersions"])
    assert sorted(entry["version"] for entry in listed) == numbers


# --- read, search, edit, delete -------------------------------------------------------------


@pytest.fixture
def registered(mlflow_as, alice, model, logged_model):
    """Three versions of fraud-detector registered through MLflow."""
    client = mlflow_as(alice)
    for _ in range(3):
        client.ok(
            "POST",
            "model-versions/create",
            name="fraud-detector",
            source=f"models:/{logged_model.model_id}",
        )
    return model


def test_get_answers_the_version_or_mlflows_not_found(mlflow_as, alice, people, registered):
    client = mlflow_as(alice)
    answer = client.ok("GET", "model-versions/get", name="fraud-detector", version="2")
    assert answer["model_version"]["version"] == "2"
    assert isinstance(answer["model_version"]["creation_timestamp"], int)

    message = client.error(
        "GET",
        "model-versions/get",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        name="fraud-detector",
        version="9",
    )
    assert message == "Model Version (name=fraud-detector, version=9) not found"
    client.error(
        "GET",
        "model-versions/get",
        400,
        "INVALID_PARAMETER_VALUE",
        name="fraud-detector",
        version="two",
    )
    mlflow_as(people["mallory"]).error(
        "GET",
        "model-versions/get",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        name="fraud-detector",
        version="2",
    )


def test_search_filters_orders_and_pages_with_opaque_tokens(mlflow_as, alice, people, registered):
    client = mlflow_as(alice)
    seen = []
    token = None
    while True:
        params = {"filter": "name = 'fraud-detector'", "max_results": "2"}
        if token:
            params["page_token"] = token
        answer = client.ok("GET", "model-versions/search", **params)
        seen += [v["version"] for v in answer["model_versions"]]
        token = answer.get("next_page_token")
        if not token:
            break
    assert seen == ["3", "2", "1"]

    ordered = client.ok(
        "GET",
        "model-versions/search",
        filter="name='fraud-detector'",
        order_by="version_number ASC",
    )
    assert [v["version"] for v in ordered["model_versions"]] == ["1", "2", "3"]
    client.ok(
        "POST",
        "model-versions/set-tag",
        name="fraud-detector",
        version="2",
        key="team.ok",
        value="yes",
    )
    run_id = ModelVersion.objects.get(model=registered, number=1).mlflow_source.mlflow_run_id
    by_run_and_tag = client.ok(
        "GET",
        "model-versions/search",
        filter=f"run_id = '{run_id}' AND tag.`team.ok` = 'yes'",
    )
    assert [v["version"] for v in by_run_and_tag["model_versions"]] == ["2"]
    assert mlflow_as(people["mallory"]).ok("GET", "model-versions/search") == {"model_versions": []}
    client.error(
        "GET", "model-versions/search", 400, "INVALID_PARAMETER_VALUE", order_by="size DESC"
    )
    client.error(
        "GET", "model-versions/search", 400, "INVALID_PARAMETER_VALUE", page_token="nonsense"
    )


def test_search_and_get_read_as_many_queries_for_many_versions_as_for_few(
    mlflow_as, alice, bob, registered, logged_model
):
    client = mlflow_as(alice)

    def queries(path: str, **params) -> int:
        with CaptureQueriesContext(connection) as captured:
            client.ok("GET", path, **params)
        return len(captured)

    client.ok("GET", "model-versions/search")  # the token's first use is recorded once
    search = ("model-versions/search", {"filter": "name='fraud-detector'"})
    get = ("model-versions/get", {"name": "fraud-detector", "version": "1"})
    before = [queries(path, **params) for path, params in (search, get)]
    for _ in range(3):
        client.ok(
            "POST",
            "model-versions/create",
            name="fraud-detector",
            source=f"models:/{logged_model.model_id}",
            tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
        )
    for number in ("1", "4"):
        mlflow_as(bob).ok(
            "POST",
            "registered-models/alias",
            name="fraud-detector",
            alias=f"v{number}",
            version=number,
        )

    assert [queries(path, **params) for path, params in (search, get)] == before


def test_update_changes_the_description_and_is_audited(mlflow_as, alice, registered):
    before = mlflow_as(alice).ok("GET", "model-versions/get", name="fraud-detector", version="1")
    answer = mlflow_as(alice).ok(
        "PATCH", "model-versions/update", name="fraud-detector", version="1", description="Tuned C."
    )["model_version"]

    assert answer["description"] == "Tuned C."
    assert answer["last_updated_timestamp"] >= before["model_version"]["last_updated_timestamp"]
    assert ModelVersion.objects.get(model=registered, number=1).description == "Tuned C."
    event = AuditEvent.objects.get(verb="version.edited")
    assert event.after == {"description": "Tuned C."}


def test_delete_removes_the_version_and_its_files_but_not_a_live_one(
    mlflow_as, alice, bob, registered, django_capture_on_commit_callbacks
):
    version = ModelVersion.objects.get(model=registered, number=3)
    promote(version, Stage.PRODUCTION, author=alice, approver=bob)
    message = mlflow_as(alice).error(
        "DELETE",
        "model-versions/delete",
        400,
        "INVALID_PARAMETER_VALUE",
        name="fraud-detector",
        version="3",
    )
    assert "production" in message
    mlflow_as(bob).error(
        "DELETE",
        "model-versions/delete",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        version="2",
    )

    storage = services.artifact_storage()
    stored = list(Artifact.objects.filter(version__number=2).values_list("storage_name", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            mlflow_as(alice).ok(
                "DELETE", "model-versions/delete", name="fraud-detector", version="2"
            )
            == {}
        )

    assert versions_of(registered) == [1, 3]
    assert not any(storage.exists(name) for name in stored)
    assert AuditEvent.objects.filter(
        verb="version.deleted", object_name="fraud-detector v2"
    ).exists()
    answer = mlflow_as(alice).ok(
        "POST",
        "model-versions/create",
        name="fraud-detector",
        source="models:/fraud-detector/1",
    )
    assert answer["model_version"]["version"] == "4"  # numbers are never given out twice


def test_tags_are_set_and_deleted_but_vetted_ones_are_read_only(
    mlflow_as, alice, people, registered
):
    client = mlflow_as(alice)
    client.ok(
        "POST",
        "model-versions/set-tag",
        name="fraud-detector",
        version="1",
        key="reviewed",
        value="yes",
    )
    tags = client.ok("GET", "model-versions/get", name="fraud-detector", version="1")[
        "model_version"
    ]["tags"]
    assert {"key": "reviewed", "value": "yes"} in tags

    client.ok(
        "DELETE", "model-versions/delete-tag", name="fraud-detector", version="1", key="reviewed"
    )
    client.ok(
        "DELETE", "model-versions/delete-tag", name="fraud-detector", version="1", key="reviewed"
    )
    tags = client.ok("GET", "model-versions/get", name="fraud-detector", version="1")[
        "model_version"
    ]["tags"]
    assert [tag["key"] for tag in tags] == ["vetted.load_check"]

    for method, path in (("POST", "set-tag"), ("DELETE", "delete-tag")):
        client.error(
            method,
            f"model-versions/{path}",
            400,
            "INVALID_PARAMETER_VALUE",
            name="fraud-detector",
            version="1",
            key="vetted.load_check",
            value="passed",
        )
    mlflow_as(people["victor"]).error(
        "POST",
        "model-versions/set-tag",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        version="1",
        key="reviewed",
        value="no",
    )
    assert AuditEvent.objects.filter(verb="version.tag_set").count() == 1


def test_the_download_uri_names_the_versions_frozen_files(mlflow_as, alice, registered):
    answer = mlflow_as(alice).ok(
        "GET", "model-versions/get-download-uri", name="fraud-detector", version="2"
    )
    assert answer == {"artifact_uri": "mlflow-artifacts:/registered/fraud-detector/2"}


# --- stages ---------------------------------------------------------------------------------


def test_moving_into_a_stage_goes_through_the_review_gate(mlflow_as, bob, registered):
    message = mlflow_as(bob).error(
        "POST",
        "model-versions/transition-stage",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        version="1",
        stage="Production",
        archive_existing_versions=False,
    )
    assert "promotion request" in message
    assert "/models/fraud-detector/versions/1/" in message
    assert ModelVersion.objects.get(model=registered, number=1).stage == Stage.NONE


def test_a_version_leaves_production_through_transition_stage(
    mlflow_as, alice, bob, people, registered
):
    promote(
        ModelVersion.objects.get(model=registered, number=1),
        Stage.PRODUCTION,
        author=alice,
        approver=bob,
    )

    answer = mlflow_as(bob).ok(
        "POST",
        "model-versions/transition-stage",
        name="fraud-detector",
        version="1",
        stage="archived",
        archive_existing_versions=True,
    )["model_version"]

    assert answer["current_stage"] == "Archived"
    assert ModelVersion.objects.get(model=registered, number=1).stage == Stage.ARCHIVED
    mlflow_as(bob).error(
        "POST",
        "model-versions/transition-stage",
        400,
        "INVALID_PARAMETER_VALUE",
        name="fraud-detector",
        version="1",
        stage="Live",
    )
    mlflow_as(people["carol"]).error(
        "POST",
        "model-versions/transition-stage",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        version="1",
        stage="None",
    )


# --- aliases --------------------------------------------------------------------------------


def test_aliases_are_set_read_and_deleted(mlflow_as, bob, registered):
    client = mlflow_as(bob)
    assert (
        client.ok(
            "POST", "registered-models/alias", name="fraud-detector", alias="candidate", version="2"
        )
        == {}
    )
    answer = client.ok("GET", "registered-models/alias", name="fraud-detector", alias="candidate")
    assert answer["model_version"]["version"] == "2"
    assert answer["model_version"]["aliases"] == ["candidate"]

    client.ok(
        "POST", "registered-models/alias", name="fraud-detector", alias="candidate", version="3"
    )
    assert ModelAlias.objects.get(name="candidate").version.number == 3
    latest = client.ok("GET", "registered-models/alias", name="fraud-detector", alias="latest")
    assert latest["model_version"]["version"] == "3"

    assert (
        client.ok("DELETE", "registered-models/alias", name="fraud-detector", alias="candidate")
        == {}
    )
    assert (
        client.ok("DELETE", "registered-models/alias", name="fraud-detector", alias="candidate")
        == {}
    )
    message = client.error(
        "GET",
        "registered-models/alias",
        400,
        "INVALID_PARAMETER_VALUE",
        name="fraud-detector",
        alias="candidate",
    )
    assert message == "Registered model alias candidate not found."


def test_alias_changes_need_the_stage_role_and_a_real_version(
    mlflow_as, alice, bob, people, registered
):
    mlflow_as(people["carol"]).error(
        "POST",
        "registered-models/alias",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        alias="candidate",
        version="1",
    )
    mlflow_as(bob, "read").error(
        "POST",
        "registered-models/alias",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        alias="candidate",
        version="1",
    )
    mlflow_as(bob).error(
        "POST",
        "registered-models/alias",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        name="fraud-detector",
        alias="candidate",
        version="7",
    )
    for reserved in ("latest", "production", "3"):
        mlflow_as(bob).error(
            "POST",
            "registered-models/alias",
            400,
            "INVALID_PARAMETER_VALUE",
            name="fraud-detector",
            alias=reserved,
            version="1",
        )
    mlflow_as(people["mallory"]).error(
        "GET",
        "registered-models/alias",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        name="fraud-detector",
        alias="candidate",
    )
    assert not ModelAlias.objects.exists()


def test_a_gated_alias_answers_permission_denied_naming_the_request_page(
    mlflow_as, alice, bob, registered, api_as, settings
):
    settings.SITE_URL = "https://vetted.example.com/"
    policy = api_as(alice).put(
        "/api/v1/teams/fraud/policies/",
        {"to_stage": "production", "required_approvals": 1, "aliases": ["champion"]},
        format="json",
    )
    assert policy.status_code == 200, policy.content
    client = mlflow_as(bob)

    message = client.error(
        "POST",
        "registered-models/alias",
        403,
        "PERMISSION_DENIED",
        name="fraud-detector",
        alias="champion",
        version="2",
    )
    assert "https://vetted.example.com/models/fraud-detector/versions/2/" in message
    assert not ModelAlias.objects.filter(name="champion").exists()

    promote(
        ModelVersion.objects.get(model=registered, number=2),
        Stage.PRODUCTION,
        author=alice,
        approver=bob,
    )
    client.ok(
        "POST", "registered-models/alias", name="fraud-detector", alias="champion", version="2"
    )
    assert ModelAlias.objects.get(name="champion").version.number == 2


# --- the version page -----------------------------------------------------------------------


def test_the_version_page_shows_where_an_mlflow_version_came_from(
    client, alice, registered, logged_model
):
    client.force_login(alice)
    page = client.get("/models/fraud-detector/versions/1/")
    html = page.content.decode()

    assert page.status_code == 200
    assert "Registered through MLflow" in html
    assert f"models:/{logged_model.model_id}" in html
    assert logged_model.source_run.run_id in html
    assert "bright-owl-42" in html
    assert "fraud-training" in html
    assert "transactions-2026-11" in html
    assert_strict_page(page)


def test_a_version_from_mlflow_costs_its_page_no_more_queries_than_a_pushed_one(
    client, alice, registered
):
    pushed = services.register_version(
        actor=alice,
        model=registered,
        lineage=services.Lineage(),
        upload=services.Upload(files=[("model.pkl", io.BytesIO(b"weights"))]),
    )[0]
    client.force_login(alice)
    count_queries(client, "/models/fraud-detector/versions/1/")  # the session's first page

    from_mlflow = count_queries(client, "/models/fraud-detector/versions/1/")
    assert count_queries(client, f"/models/fraud-detector/versions/{pushed.number}/") == from_mlflow


def test_a_version_pushed_to_vetted_has_no_mlflow_panel(client, alice, model):
    services.register_version(
        actor=alice,
        model=model,
        lineage=services.Lineage(),
        upload=services.Upload(files=[("model.pkl", io.BytesIO(b"weights"))]),
    )
    client.force_login(alice)
    page = client.get("/models/fraud-detector/versions/1/")
    assert page.status_code == 200
    assert "Registered through MLflow" not in page.content.decode()
    assert not VersionSource.objects.exists()

"""MLflow's own client, unchanged, against a live Vetted: what a team does after setting
MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN.

Every call goes through mlflow-skinny's REST stores over HTTP; the assertions then look at what
Vetted made of it (versions, lineage, checksums, the version page) and at what a new process
loading `models:/…` gets back.
"""

import hashlib
import json
from pathlib import Path

import mlflow
import mlflow.data
import mlflow.sklearn
import pytest
from django.urls import reverse
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from accounts.models import Membership, Role
from registry.models import ModelVersion, RegisteredModel
from reviews import services as reviews
from reviews.models import Decision, Policy
from tests.promotions import promote

pytest_plugins = ["tests.mlflow_server"]

NAME = "fraud-detector"
COMMIT = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
GIT_TAGS = {
    "mlflow.source.git.commit": COMMIT,
    "mlflow.source.git.branch": "main",
    "mlflow.source.git.repoURL": "https://github.com/acme/fraud",
}
# Given, so MLflow skips inferring them (a subprocess loading the model: seconds per log_model).
REQUIREMENTS = ["scikit-learn"]


@pytest.fixture(scope="module")
def iris():
    frame = load_iris(as_frame=True).frame
    return frame.drop(columns="target"), frame["target"]


@pytest.fixture(scope="module")
def regression(iris):
    features, target = iris
    return LogisticRegression(max_iter=500).fit(features, target)


@pytest.fixture(scope="module")
def underfit(iris):
    """So strongly regularised that it predicts differently from `regression`: easy to tell."""
    features, target = iris
    return LogisticRegression(C=0.001, max_iter=500).fit(features, target)


def log_trained(model, features, *, registered_model_name=None, params=None, accuracy=None):
    """One training run as a data scientist writes it; the ModelInfo of the logged model."""
    with mlflow.start_run(tags=GIT_TAGS):
        mlflow.log_params(params or {"max_iter": 500})
        mlflow.log_input(mlflow.data.from_pandas(features, name="iris-train"), context="training")
        if accuracy is not None:
            mlflow.log_metric("accuracy", accuracy)
        return mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=registered_model_name,
            input_example=features.head(3),
            pip_requirements=REQUIREMENTS,
        )


def error_code(raised: pytest.ExceptionInfo) -> str:
    return raised.value.error_code


def sha256s(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_logging_twice_registers_versions_1_and_2_with_the_runs_lineage(
    mlflow_as, alice, client, iris, regression, underfit
):
    features, _ = iris
    mlflow_as(alice)
    mlflow.set_experiment("fraud-detection")

    first = log_trained(
        regression, features, registered_model_name=NAME, params={"C": 0.5}, accuracy=0.97
    )
    second = log_trained(underfit, features, registered_model_name=NAME, params={"C": 0.5})

    # A string over REST, as with `mlflow server` (only local stores give an int).
    assert (first.registered_model_version, second.registered_model_version) == ("1", "2")
    model = RegisteredModel.objects.get(name=NAME)
    assert model.team.slug == "fraud" and model.created_by == alice
    version = ModelVersion.objects.get(model=model, number=1)
    assert version.created_by == alice
    assert (version.git_commit, version.git_branch) == (COMMIT, "main")
    assert version.git_repo == "https://github.com/acme/fraud"
    assert version.params["C"] == "0.5" and version.metrics == {"accuracy": 0.97}
    assert "sklearn" in version.flavors and version.signature is not None
    client.force_login(alice)
    page = client.get(reverse("registry:version_detail", args=[NAME, 1])).content.decode()
    assert COMMIT in page and "accuracy" in page and "0.97" in page and ">C<" in page
    # The MLflow panel: the run, its experiment and the dataset it logged.
    assert first.run_id in page and "fraud-detection" in page and "iris-train" in page


def test_a_registered_versions_files_are_what_was_logged_with_their_sha256(
    mlflow_as, alice, iris, regression, tmp_path
):
    features, _ = iris
    mlflow_as(alice)
    info = log_trained(regression, features, registered_model_name=NAME)

    # What the client uploaded for the logged model, read back over HTTP.
    logged = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path)))
    frozen = ModelVersion.objects.get(model__name=NAME, number=1)
    stored = {artifact.path: artifact.sha256 for artifact in frozen.artifacts.all()}
    assert stored == sha256s(logged)
    assert "MLmodel" in stored and "model.skops" in stored


def test_log_model_without_an_active_run_registers_a_version_from_the_logged_model(
    mlflow_as, alice, regression
):
    conn = mlflow_as(alice)

    info = mlflow.sklearn.log_model(
        regression, name="model", registered_model_name=NAME, pip_requirements=REQUIREMENTS
    )

    assert mlflow.active_run() is None
    assert info.model_uri.startswith("models:/m-")
    version = conn.client.get_model_version(NAME, "1")
    assert version.source == info.model_uri and version.status == "READY"


def test_register_model_from_a_runs_uri_and_from_a_logged_models_uri(
    mlflow_as, alice, iris, regression
):
    features, _ = iris
    conn = mlflow_as(alice)
    info = log_trained(regression, features, params={"C": 2.0})

    from_run = mlflow.register_model(f"runs:/{info.run_id}/model", NAME)
    from_logged_model = mlflow.register_model(info.model_uri, NAME)

    assert (from_run.version, from_logged_model.version) == ("1", "2")
    assert from_run.run_id == info.run_id
    for number in (1, 2):
        version = ModelVersion.objects.get(model__name=NAME, number=number)
        assert version.params == {"C": "2.0"} and version.git_commit == COMMIT
    got = conn.client.get_model_version(NAME, "2")
    assert got.source == info.model_uri and got.run_id == info.run_id


def test_aliases_and_tags_round_trip_and_an_unknown_alias_is_invalid(mlflow_as, alice, regression):
    client = mlflow_as(alice).client
    info = mlflow.sklearn.log_model(
        regression, name="model", registered_model_name=NAME, pip_requirements=REQUIREMENTS
    )
    mlflow.register_model(info.model_uri, NAME)

    client.set_registered_model_alias(NAME, "challenger", "1")
    assert client.get_model_version_by_alias(NAME, "challenger").version == "1"
    client.set_registered_model_alias(NAME, "challenger", "2")
    assert client.get_registered_model(NAME).aliases == {"challenger": "2"}
    assert client.get_model_version(NAME, "2").aliases == ["challenger"]
    client.delete_registered_model_alias(NAME, "challenger")
    with pytest.raises(MlflowException) as raised:
        client.get_model_version_by_alias(NAME, "challenger")
    assert error_code(raised) == "INVALID_PARAMETER_VALUE"

    client.set_registered_model_tag(NAME, "owner", "fraud-team")
    client.set_model_version_tag(NAME, "1", "validated", "yes")
    client.set_model_version_tag(NAME, "2", "validated", "no")
    client.delete_model_version_tag(NAME, "2", "validated")
    assert client.get_registered_model(NAME).tags == {"owner": "fraud-team"}
    assert client.get_model_version(NAME, "1").tags["validated"] == "yes"
    assert "validated" not in client.get_model_version(NAME, "2").tags
    assert "vetted.load_check" in client.get_model_version(NAME, "1").tags
    with pytest.raises(MlflowException) as raised:
        client.set_model_version_tag(NAME, "1", "vetted.load_check", "passed")
    assert error_code(raised) == "INVALID_PARAMETER_VALUE"


def test_copy_model_version_copies_files_and_tags_into_another_model(mlflow_as, alice, regression):
    client = mlflow_as(alice).client
    mlflow.sklearn.log_model(
        regression, name="model", registered_model_name=NAME, pip_requirements=REQUIREMENTS
    )
    client.set_model_version_tag(NAME, "1", "validated", "yes")

    copied = client.copy_model_version(f"models:/{NAME}/1", "fraud-detector-shadow")

    assert copied.name == "fraud-detector-shadow" and copied.version == "1"
    assert copied.tags["validated"] == "yes"
    original = ModelVersion.objects.get(model__name=NAME, number=1)
    copy = ModelVersion.objects.get(model__name="fraud-detector-shadow", number=1)
    assert sorted(copy.artifacts.values_list("path", "sha256")) == sorted(
        original.artifacts.values_list("path", "sha256")
    )


def test_search_model_versions_pages_through_every_version(mlflow_as, alice, regression):
    client = mlflow_as(alice).client
    info = mlflow.sklearn.log_model(
        regression, name="model", registered_model_name=NAME, pip_requirements=REQUIREMENTS
    )
    for _ in range(4):
        mlflow.register_model(info.model_uri, NAME)

    pages, token = [], None
    while True:
        page = client.search_model_versions(f"name='{NAME}'", max_results=2, page_token=token)
        pages.append([version.version for version in page])
        token = page.token
        if not token:
            break

    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(number for page in pages for number in page) == ["1", "2", "3", "4", "5"]
    assert [model.name for model in client.search_registered_models()] == [NAME]
    assert [v.version for v in mlflow.search_model_versions(filter_string=f"name='{NAME}'")]


def test_a_new_process_loads_by_alias_latest_number_and_production_and_predicts_the_same(
    mlflow_as, alice, bob, iris, regression, underfit
):
    features, _ = iris
    conn = mlflow_as(alice)
    log_trained(regression, features, registered_model_name=NAME)
    log_trained(underfit, features, registered_model_name=NAME)
    conn.client.set_registered_model_alias(NAME, "challenger", "1")
    promote(
        ModelVersion.objects.get(model__name=NAME, number=1),
        "production",
        author=alice,
        approver=bob,
    )
    uris = [f"models:/{NAME}@challenger", f"models:/{NAME}/latest", f"models:/{NAME}/2"]
    uris.append(f"models:/{NAME}/Production")

    out = conn.run_python(
        "import json, sys, mlflow.pyfunc\n"
        "from sklearn.datasets import load_iris\n"
        "features = load_iris(as_frame=True).frame.drop(columns='target')\n"
        f"uris = {uris!r}\n"
        "print(json.dumps({u: mlflow.pyfunc.load_model(u).predict(features).tolist()"
        " for u in uris}))\n"
    )

    predicted = json.loads(out.strip().splitlines()[-1])
    by_regression = regression.predict(features).tolist()
    by_underfit = underfit.predict(features).tolist()
    assert by_regression != by_underfit
    assert predicted == {
        uris[0]: by_regression,
        uris[1]: by_underfit,
        uris[2]: by_underfit,
        uris[3]: by_regression,
    }


def test_moving_a_stage_through_mlflow_is_denied_naming_the_version_page(
    mlflow_as, alice, regression, live_server, settings
):
    settings.SITE_URL = live_server.url
    client = mlflow_as(alice).client
    mlflow.sklearn.log_model(
        regression, name="model", registered_model_name=NAME, pip_requirements=REQUIREMENTS
    )

    with pytest.raises(MlflowException) as raised:
        client.transition_model_version_stage(NAME, "1", "Production")

    assert error_code(raised) == "PERMISSION_DENIED"
    page = live_server.url + reverse("registry:version_detail", args=[NAME, 1])
    assert page in raised.value.message
    assert ModelVersion.objects.get(model__name=NAME, number=1).stage == "none"


def test_a_gated_alias_is_denied_naming_the_open_request_and_moves_once_it_is_merged(
    mlflow_as, alice, bob, teams, regression, live_server, settings
):
    settings.SITE_URL = live_server.url
    Policy.objects.create(team=teams["fraud"], to_stage="production", aliases=["champion"])
    client = mlflow_as(alice).client
    mlflow.sklearn.log_model(
        regression, name="model", registered_model_name=NAME, pip_requirements=REQUIREMENTS
    )
    version = ModelVersion.objects.select_related("model__team").get(model__name=NAME, number=1)
    request = reviews.open_request(actor=alice, version=version, to_stage="production")

    with pytest.raises(MlflowException) as raised:
        client.set_registered_model_alias(NAME, "champion", "1")

    assert error_code(raised) == "PERMISSION_DENIED"
    page = live_server.url + reverse("reviews:request", args=[request.number])
    assert page in raised.value.message
    assert client.get_registered_model(NAME).aliases == {}
    reviews.give_review(actor=bob, request=request, decision=Decision.APPROVE)
    reviews.merge(actor=bob, request=request)
    client.set_registered_model_alias(NAME, "champion", "1")
    assert client.get_model_version_by_alias(NAME, "champion").current_stage == "Production"


def test_basic_credentials_work_a_read_token_cannot_write_and_other_teams_see_nothing(
    mlflow_as, alice, people
):
    mlflow_as(alice, basic=True).client.create_registered_model(NAME, description="Fraud")

    reader = mlflow_as(alice, "read").client
    assert reader.get_registered_model(NAME).description == "Fraud"
    with pytest.raises(MlflowException) as raised:
        reader.create_registered_model("another")
    assert error_code(raised) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as raised:
        mlflow_as(people["mallory"]).client.get_registered_model(NAME)
    assert error_code(raised) == "RESOURCE_DOES_NOT_EXIST"
    assert not RegisteredModel.objects.filter(name="another").exists()


def test_a_user_of_two_teams_needs_a_team_limited_token_and_the_error_says_so(
    mlflow_as, teams, people
):
    mallory = people["mallory"]
    Membership.objects.create(user=mallory, team=teams["fraud"], role=Role.DATA_SCIENTIST)

    with pytest.raises(MlflowException) as raised:
        mlflow_as(mallory).client.create_registered_model(NAME)
    assert error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert "limited to one team" in raised.value.message

    mlflow_as(mallory, team=teams["growth"]).client.create_registered_model(NAME)
    assert RegisteredModel.objects.get(name=NAME).team == teams["growth"]


@pytest.mark.parametrize(
    "source", ["/tmp/model", "file:///tmp/model", "s3://bucket/model", "runs:/0123abcd/model"]
)
def test_a_source_outside_vetted_is_refused(mlflow_client, source):
    mlflow_client.create_registered_model(NAME)

    with pytest.raises(MlflowException) as raised:
        mlflow_client.create_model_version(NAME, source)

    assert error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert not ModelVersion.objects.filter(model__name=NAME).exists()

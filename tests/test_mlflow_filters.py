"""MLflow's model-version filter grammar, on real versions (model-versions/search uses it; the
registered-model side is tried through its endpoint)."""

import pytest

from mlflow_api.filters import parse_version_filter
from mlflow_api.models import ModelVersionTag, VersionSource
from mlflow_api.wire import MlflowError
from registry.models import ModelVersion

from .page_factories import pushed_version, registered_model


@pytest.fixture
def versions(alice, teams):
    """fraud v1 (run r1, tag flavor=sklearn), v2 (run r2), v3 (pushed by Vetted, no source);
    churn v1 (run r1)."""
    fraud = registered_model(alice, teams["fraud"], "fraud")
    churn = registered_model(alice, teams["fraud"], "churn")
    made = [pushed_version(alice, fraud) for _ in range(3)] + [pushed_version(alice, churn)]
    for version, run in zip([made[0], made[1], made[3]], ["r1", "r2", "r1"], strict=True):
        VersionSource.objects.create(
            version=version, source=f"runs:/{run}/model", mlflow_run_id=run
        )
    ModelVersionTag.objects.create(version=made[0], key="flavor", value="sklearn")
    return made


def found(filter_string: str) -> list[str]:
    versions = ModelVersion.objects.filter(parse_version_filter(filter_string))
    return [
        f"{version.model.name}/{version.number}"
        for version in versions.select_related("model").order_by("model__name", "-number")
    ]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["churn/1", "fraud/3", "fraud/2", "fraud/1"]),
        ("name = 'fraud'", ["fraud/3", "fraud/2", "fraud/1"]),
        ("name='fraud' AND version_number > 1", ["fraud/3", "fraud/2"]),
        ("version_number <= 1", ["churn/1", "fraud/1"]),
        ("version_number != 1", ["fraud/3", "fraud/2"]),
        ("run_id = 'r1'", ["churn/1", "fraud/1"]),
        ("run_id IN ('r1', 'r2') AND name = 'fraud'", ["fraud/2", "fraud/1"]),
        ("run_id != 'r1'", ["fraud/3", "fraud/2"]),
        ("source_path = 'runs:/r2/model'", ["fraud/2"]),
        ("source_path LIKE 'runs:/r_/%'", ["churn/1", "fraud/2", "fraud/1"]),
        ("tag.flavor = 'sklearn'", ["fraud/1"]),
        ("tags.`flavor` ILIKE 'SK%'", ["fraud/1"]),
        ("tag.`mlflow.prompt.is_prompt` != 'true'", ["churn/1", "fraud/3", "fraud/2", "fraud/1"]),
    ],
)
def test_version_filters_select_as_mlflow_does(versions, filter_string, expected):
    assert found(filter_string) == expected


@pytest.mark.parametrize(
    "filter_string",
    [
        "version_number = 'one'",
        "version_number LIKE '1'",
        "source_path IN ('a')",
        "stage = 'Production'",
        "run_id = r1",
        "name = 'fraud' OR name = 'churn'",
    ],
)
def test_a_version_filter_mlflow_would_refuse_is_an_invalid_parameter(filter_string):
    with pytest.raises(MlflowError) as refused:
        parse_version_filter(filter_string)

    assert refused.value.code == "INVALID_PARAMETER_VALUE"

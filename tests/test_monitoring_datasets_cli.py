"""`vetted data push` as a CI job runs it: a real subprocess against a live server."""

import json

import pytest

from monitoring.models import Dataset

from .monitoring_datasets import NAME, fraud_model, transactions
from .test_cli import vetted_as  # noqa: F401  (the fixture: the CLI with a user's token)


@pytest.fixture
def model(alice, teams):
    return fraud_model(alice, teams["fraud"])


def test_it_uploads_a_batch_and_prints_its_id(vetted_as, alice, model, tmp_path):  # noqa: F811
    path = tmp_path / "2026-11-02.parquet"
    transactions().to_parquet(path, index=False)

    done = vetted_as(alice)(
        "data",
        "push",
        NAME,
        str(path),
        "--kind",
        "batch",
        "--at",
        "2026-11-02T06:00:00Z",
        "--prediction",
        "predicted",
        "--score",
        "score",
        "--label",
        "is_fraud",
        "--protected",
        "region",
    )

    assert done.returncode == 0, done.stderr
    dataset = Dataset.objects.get(pk=int(done.stdout))
    assert (dataset.kind, dataset.row_count, dataset.name) == ("batch", 200, path.name)
    assert dataset.observed_at.isoformat() == "2026-11-02T06:00:00+00:00"
    assert (dataset.prediction_column, dataset.score_column) == ("predicted", "score")
    assert dataset.protected_columns == ["region"] and dataset.label_column == "is_fraud"
    assert "200 rows" in done.stderr


def test_it_prints_the_whole_dataset_as_json(vetted_as, alice, model, tmp_path):  # noqa: F811
    path = tmp_path / "holdout.csv"
    transactions().to_csv(path, index=False)

    done = vetted_as(alice)(
        "data", "push", NAME, str(path), "--kind", "evaluation", "--label", "is_fraud", "--json"
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["missing"]["amount"] == 2


def test_a_mismatch_is_rejected_with_the_columns_named(vetted_as, alice, model, tmp_path):  # noqa: F811
    path = tmp_path / "bad.csv"
    transactions().drop(columns=["hour", "merchant"]).to_csv(path, index=False)

    done = vetted_as(alice)("data", "push", NAME, str(path), "--kind", "batch")

    assert done.returncode == 6  # rejected input
    assert "hour, merchant" in done.stderr and not done.stdout
    assert not Dataset.objects.exists()


def test_a_viewer_is_refused_and_a_bad_timestamp_is_a_usage_error(
    vetted_as,  # noqa: F811
    people,
    model,
    tmp_path,
):
    path = tmp_path / "batch.csv"
    transactions().to_csv(path, index=False)

    refused = vetted_as(people["victor"])("data", "push", NAME, str(path), "--kind", "batch")
    usage = vetted_as(people["alice"])(
        "data", "push", NAME, str(path), "--kind", "batch", "--at", "yesterday"
    )

    assert refused.returncode == 4 and "does not allow" in refused.stderr
    assert usage.returncode == 2 and "ISO 8601" in usage.stderr

"""A CI job uploads reference, evaluation and batch data for a model over the API."""

import hashlib
import random
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from monitoring.datasets import DATASETS_FOLDER, PROFILES_FOLDER
from monitoring.models import Dataset

from .monitoring_datasets import NAME, csv_file, fraud_model, parquet_file, transactions

URL = f"/api/v1/models/{NAME}/datasets/"


@pytest.fixture
def model(alice, teams):
    return fraud_model(alice, teams["fraud"])


def stored_files(model) -> list[Path]:
    """The model's dataset and profile files (evaluations' folders are named by run, and a run's
    id may equal the model's)."""
    root = Path(settings.STORAGES["artifacts"]["OPTIONS"]["location"])
    folders = [root / DATASETS_FOLDER / str(model.pk), root / PROFILES_FOLDER / str(model.pk)]
    return [p for folder in folders for p in folder.rglob("*") if p.is_file()]


def upload(client, file, **fields):
    return client.post(URL, {"file": file, **fields}, format="multipart")


def test_a_csv_is_stored_as_parquet_with_its_rows_schema_and_missing_counts(api_as, alice, model):
    frame = transactions()

    response = upload(
        api_as(alice),
        csv_file(frame, "holdout.csv"),
        kind="evaluation",
        label="is_fraud",
        prediction="predicted",
        score="score",
        protected="region",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "evaluation" and body["name"] == "holdout.csv"
    assert body["rows"] == 200 and body["checked_against_version"] == 1
    assert body["schema"] == [
        {"name": "amount", "type": "double"},
        {"name": "hour", "type": "long"},
        {"name": "merchant", "type": "string"},
        {"name": "is_fraud", "type": "long"},
        {"name": "predicted", "type": "long"},
        {"name": "score", "type": "double"},
        {"name": "region", "type": "string"},
    ]
    assert body["missing"]["amount"] == 2 and body["missing"]["merchant"] == 1
    assert body["missing"]["hour"] == 0
    assert body["feature_columns"] == ["amount", "hour", "merchant"]
    assert (body["label"], body["prediction"], body["score"]) == ("is_fraud", "predicted", "score")
    assert body["protected"] == ["region"] and body["created_by"] == "alice"
    [stored] = stored_files(model)
    assert stored.suffix == ".parquet" and body["size"] == stored.stat().st_size
    assert body["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    pd.testing.assert_frame_equal(pd.read_parquet(stored), frame, check_dtype=False)
    event = AuditEvent.objects.get(verb="dataset.uploaded")
    assert event.model_name == NAME and event.after["rows"] == 200


def test_a_parquet_file_is_recognised_by_its_content_whatever_its_name(api_as, alice, model):
    frame = transactions(rows=50)
    frame["hour"] = frame["hour"].astype("float64")  # as pandas writes ints with missing values
    frame.loc[4, "hour"] = float("nan")

    response = upload(api_as(alice), parquet_file(frame, "batch.csv"), kind="batch")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rows"] == 50 and body["missing"]["hour"] == 1
    assert {"name": "hour", "type": "long"} in body["schema"]
    assert body["observed_at"]


def test_a_batch_keeps_the_time_it_was_seen(api_as, alice, model):
    response = upload(
        api_as(alice), csv_file(transactions()), kind="batch", at="2026-11-02T06:00:00Z"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["observed_at"] == "2026-11-02T06:00:00Z"


def test_columns_missing_or_of_the_wrong_type_are_named_and_nothing_is_stored(api_as, alice, model):
    frame = transactions().drop(columns="merchant")
    frame["hour"] = frame["hour"].astype(str) + "h"

    response = upload(api_as(alice), csv_file(frame), kind="batch")

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "merchant" in message
    # Both faults at once: the column missing and the column of the wrong type.
    assert "missing" in message
    response = upload(api_as(alice), csv_file(transactions().assign(hour="late")), kind="batch")
    assert response.status_code == 400
    assert "hour (long expected, found 'late')" in response.json()["error"]["message"]
    assert not Dataset.objects.exists() and stored_files(model) == []


def test_a_parquet_column_of_text_for_a_number_is_named(api_as, alice, model):
    frame = transactions().assign(amount="lots")

    response = upload(api_as(alice), parquet_file(frame), kind="batch")

    assert response.status_code == 400
    assert "amount (double expected, found 'lots')" in response.json()["error"]["message"]
    assert not Dataset.objects.exists() and stored_files(model) == []


def test_a_float_with_a_fraction_is_not_an_integer_column(api_as, alice, model):
    frame = transactions().assign(hour=2.5)

    response = upload(api_as(alice), parquet_file(frame), kind="batch")

    assert response.status_code == 400
    assert "hour (long expected, found 2.5)" in response.json()["error"]["message"]


def test_named_columns_must_be_in_the_file(api_as, alice, model):
    response = upload(
        api_as(alice), csv_file(transactions()), kind="evaluation", label="fraud", protected="sex"
    )

    assert response.status_code == 400
    assert "named columns not in the file: fraud, sex" in response.json()["error"]["message"]


def test_an_evaluation_set_needs_its_label(api_as, alice, model):
    response = upload(api_as(alice), csv_file(transactions()), kind="evaluation")

    assert response.status_code == 400
    assert response.json()["error"]["detail"]["label"]


def test_a_batch_without_predictions_needs_a_version_to_make_them(api_as, alice, teams):
    from .page_factories import registered_model

    registered_model(alice, teams["fraud"], NAME)

    refused = upload(api_as(alice), csv_file(transactions()), kind="batch")
    accepted = upload(api_as(alice), csv_file(transactions()), kind="batch", prediction="predicted")

    assert refused.status_code == 400 and "prediction" in refused.json()["error"]["detail"]
    assert accepted.status_code == 201, accepted.json()


def test_a_model_without_a_signature_takes_the_files_columns(api_as, alice, teams):
    fraud_model(alice, teams["fraud"], signature=False)

    response = upload(api_as(alice), csv_file(transactions()), kind="evaluation", label="is_fraud")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["checked_against_version"] == 1
    assert body["feature_columns"] == ["amount", "hour", "merchant", "predicted", "score", "region"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x01\x02\xff\xfe\xfd" * 100,
        b"PAR1 not really parquet",
        b"amount,hour,merchant\n",
        b"amount,hour,merchant,hour\n1.0,2,a,3\n",
        b"amount,hour,merchant\n1.0,2,caf\xe9\n",
        b"%\xc3\x9f\rw)\x01x\n1,2\n",
        b"a,b\x00c\n1,2,3\n",
    ],
    ids=[
        "empty",
        "binary",
        "fake-parquet",
        "header-only",
        "repeated-column",
        "latin-1",
        "carriage-return-in-header",
        "nul-in-header",
    ],
)
def test_garbage_is_a_400_not_a_500(api_as, alice, model, content):
    response = upload(api_as(alice), SimpleUploadedFile("x.csv", content), kind="batch")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"]
    assert stored_files(model) == []


def test_random_bytes_are_a_400_not_a_500(api_as, alice, model):
    client = api_as(alice)
    for seed in range(20):
        content = random.Random(seed).randbytes(2000)
        response = upload(client, SimpleUploadedFile("x.parquet", content), kind="batch")
        assert response.status_code == 400, (seed, response.content)
    assert stored_files(model) == []


def test_text_that_is_not_utf8_is_named_by_its_column(api_as, alice, model):
    content = "amount,hour,merchant\n1.0,2,café\n".encode("latin-1")

    response = upload(api_as(alice), SimpleUploadedFile("x.csv", content), kind="batch")

    assert response.status_code == 400
    assert "Column merchant holds text that is not UTF-8" in response.json()["error"]["message"]


def test_a_file_past_the_limit_is_a_413(api_as, alice, model, settings):
    settings.DATASET_MAX_BYTES = 2000

    response = upload(api_as(alice), csv_file(transactions()), kind="batch")

    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]
    assert not Dataset.objects.exists() and stored_files(model) == []


def test_people_who_may_not_push_may_not_upload(api_as, people, model):
    for who in ("carol", "victor"):
        response = upload(api_as(people[who]), csv_file(transactions()), kind="batch")
        assert response.status_code == 403, who
    assert upload(api_as(people["bob"]), csv_file(transactions()), kind="batch").status_code == 201


def test_a_read_token_may_list_but_not_upload(api_as, alice, model):
    response = upload(api_as(alice, "read"), csv_file(transactions()), kind="batch")

    assert response.status_code == 403
    assert "scope" in response.json()["error"]["message"]
    assert api_as(alice, "read").get(URL).status_code == 200


def test_another_teams_model_and_data_are_not_found(api_as, alice, people, model):
    created = upload(api_as(alice), csv_file(transactions()), kind="batch").json()
    mallory = api_as(people["mallory"])

    assert upload(mallory, csv_file(transactions()), kind="batch").status_code == 404
    assert mallory.get(URL).status_code == 404
    assert mallory.get(f"/api/v1/datasets/{created['id']}/").status_code == 404


def test_datasets_are_listed_newest_first_and_read_one_by_one(api_as, alice, model):
    client = api_as(alice)
    first = upload(client, csv_file(transactions()), kind="batch", at="2026-11-01T00:00:00Z")
    second = upload(client, csv_file(transactions()), kind="batch", at="2026-11-02T00:00:00Z")
    upload(client, csv_file(transactions()), kind="evaluation", label="is_fraud")

    batches = client.get(URL, {"kind": "batch"}).json()["results"]
    one = client.get(f"/api/v1/datasets/{first.json()['id']}/").json()

    assert [d["id"] for d in batches] == [second.json()["id"], first.json()["id"]]
    assert one == first.json()
    assert client.get(URL, {"kind": "nonsense"}).status_code == 400


def test_a_reference_upload_is_profiled_once_with_its_columns_sorted(api_as, alice, model):
    import numpy as np

    from monitoring.datasets import reference_profile
    from monitoring.models import ReferenceProfile

    frame = transactions()
    response = upload(
        api_as(alice), csv_file(frame), kind="reference", label="is_fraud", prediction="predicted"
    )

    assert response.status_code == 201, response.json()
    dataset = Dataset.objects.get(pk=response.json()["id"])
    stored = ReferenceProfile.objects.get(dataset=dataset)
    columns = stored.profile["columns"]
    assert stored.profile["rows"] == 200
    assert {n: c["type"] for n, c in columns.items()} == {
        "amount": "numeric",
        "hour": "numeric",
        "merchant": "categorical",
        "is_fraud": "categorical",  # a classifier's label and prediction are classes
        "predicted": "categorical",
    }
    assert columns["amount"]["missing"] == 2 and columns["merchant"]["missing"] == 1
    profile, sorted_column = reference_profile(dataset)
    assert profile == stored.profile
    assert ReferenceProfile.objects.count() == 1
    expected = np.sort(frame["amount"].dropna().to_numpy())
    np.testing.assert_array_equal(sorted_column("amount"), expected)


def test_a_reference_is_profiled_with_the_models_own_bins(api_as, alice, model):
    from monitoring.models import ModelMonitoringSettings, ReferenceProfile

    ModelMonitoringSettings.objects.create(model=model, values={"psi_bins": 4})

    upload(api_as(alice), csv_file(transactions()), kind="reference")

    profile = ReferenceProfile.objects.get().profile
    assert profile["bins"] == 4 and len(profile["columns"]["amount"]["edges"]) == 5

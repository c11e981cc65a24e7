"""A model's Data tab: the datasets uploaded, and a form for those who may upload more."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from monitoring.datasets import store_dataset
from monitoring.models import Dataset

from .monitoring_datasets import NAME, csv_file, fraud_model, transactions
from .page_factories import assert_strict_page, count_queries

URL = f"/models/{NAME}/datasets/"


@pytest.fixture
def model(alice, teams):
    return fraud_model(alice, teams["fraud"])


def stored(model, alice, kind="batch", **fields):
    content = transactions().to_csv(index=False).encode()
    return store_dataset(
        actor=alice, model=model, file=io.BytesIO(content), filename="b.csv", kind=kind, **fields
    )


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="dataset-(\d+)"', html)]


def test_a_data_scientist_uploads_a_file_through_the_form(client, alice, model):
    client.force_login(alice)
    page = client.get(URL)
    assert page.status_code == 200 and 'aria-label="Upload data"' in page.content.decode()
    assert_strict_page(page)

    response = client.post(
        URL,
        {
            "file": csv_file(transactions(), "holdout.csv"),
            "kind": "evaluation",
            "label": "is_fraud",
            "prediction": "predicted",
            "score": "score",
            "protected": "region",
        },
        follow=True,
    )

    assert response.status_code == 200
    dataset = Dataset.objects.get()
    html = response.content.decode()
    assert f"Stored evaluation data #{dataset.pk}: 200 rows." in html
    assert listed_ids(html) == [dataset.pk]
    assert "<code>amount</code> 2" in html and "<code>merchant</code> 1" in html
    assert dataset.protected_columns == ["region"] and dataset.created_by == alice


def test_a_batch_keeps_the_time_typed_in_the_form(client, alice, model):
    client.force_login(alice)

    client.post(
        URL,
        {"file": csv_file(transactions()), "kind": "batch", "at": "2026-11-02T06:30"},
    )

    assert Dataset.objects.get().observed_at.isoformat() == "2026-11-02T06:30:00+00:00"


def test_a_file_that_does_not_match_shows_the_columns_and_stores_nothing(client, alice, model):
    client.force_login(alice)

    response = client.post(
        URL, {"file": csv_file(transactions().drop(columns="hour")), "kind": "batch"}
    )

    assert response.status_code == 400
    assert "missing columns the signature requires: hour" in response.content.decode()
    assert not Dataset.objects.exists()


def test_garbage_and_a_file_past_the_limit_are_refused(client, alice, model, settings):
    client.force_login(alice)
    garbage = client.post(
        URL, {"file": SimpleUploadedFile("x.csv", b"\x00\xff" * 50), "kind": "batch"}
    )
    settings.DATASET_MAX_BYTES = 2000
    large = client.post(URL, {"file": csv_file(transactions()), "kind": "batch"})

    assert garbage.status_code == 400
    assert large.status_code == 413 and "larger than the limit" in large.content.decode()
    assert not Dataset.objects.exists()


def test_a_viewer_sees_the_data_but_no_form_and_cannot_post(client, people, alice, model):
    stored(model, alice)
    client.force_login(people["victor"])

    page = client.get(URL)
    refused = client.post(URL, {"file": csv_file(transactions()), "kind": "batch"})

    assert page.status_code == 200 and len(listed_ids(page.content.decode())) == 1
    assert "Upload data" not in page.content.decode()
    assert refused.status_code == 403 and Dataset.objects.count() == 1


def test_another_team_and_strangers_do_not_see_it(client, people, model):
    client.force_login(people["mallory"])
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"kind": "batch"}).status_code == 404
    client.logout()
    assert client.get(URL).status_code == 302


def test_it_filters_by_kind_newest_first(client, alice, model):
    older = stored(model, alice)
    reference = stored(model, alice, kind="reference")
    newer = stored(model, alice)
    client.force_login(alice)

    assert listed_ids(client.get(URL + "?kind=batch").content.decode()) == [newer.pk, older.pk]
    assert listed_ids(client.get(URL + "?kind=reference").content.decode()) == [reference.pk]
    assert len(listed_ids(client.get(URL + "?kind=nonsense").content.decode())) == 3


def test_its_queries_do_not_grow_with_the_datasets(client, alice, model):
    client.force_login(alice)
    stored(model, alice)
    few = count_queries(client, URL)
    for _ in range(5):
        stored(model, alice, kind="evaluation", label="is_fraud")
    assert count_queries(client, URL) == few <= 8

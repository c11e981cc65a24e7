"""store_dataset() and reference_profile() as evaluations and scripts call them."""

import io
import threading

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from monitoring.datasets import read_chunks, reference_profile, store_dataset
from monitoring.models import Dataset, ReferenceProfile
from vetted.api.errors import UploadTooLarge

from .monitoring_datasets import fraud_model, transactions
from .test_monitoring_datasets_api import stored_files
from .test_s3_storage import bucket, s3_endpoint  # noqa: F401  (fixtures: moto's S3 server)


class Stream(io.RawIOBase):
    """A file of unknown length, as a script's pipe would be: no `size` to check up front."""

    def __init__(self, content: bytes):
        self.inner = io.BytesIO(content)

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self.inner.seek(offset, whence)

    def readinto(self, buffer):
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def test_a_stream_past_the_limit_is_stopped_while_it_is_read(alice, teams, settings):
    model = fraud_model(alice, teams["fraud"])
    settings.DATASET_MAX_BYTES = 5000
    content = transactions(rows=2000).to_csv(index=False).encode()

    with pytest.raises(UploadTooLarge):
        store_dataset(actor=alice, model=model, file=Stream(content), filename="s", kind="batch")

    assert not Dataset.objects.exists() and stored_files(model) == []


def test_chunks_hold_at_most_the_rows_asked_for(alice, teams):
    model = fraud_model(alice, teams["fraud"])
    content = transactions(rows=1000).to_csv(index=False).encode()
    dataset = store_dataset(
        actor=alice, model=model, file=io.BytesIO(content), filename="b.csv", kind="batch"
    )

    chunks = list(read_chunks(dataset, columns=["amount", "merchant"], rows=300))

    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    assert list(chunks[0].columns) == ["amount", "merchant"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_asking_for_a_profile_at_once_build_it_once(people, teams):
    alice = people["alice"]
    model = fraud_model(alice, teams["fraud"])
    content = transactions(rows=5000).to_csv(index=False).encode()
    dataset = store_dataset(
        actor=alice,
        model=model,
        file=io.BytesIO(content),
        filename="b.csv",
        kind="evaluation",
        label="is_fraud",
    )
    start = threading.Barrier(2)
    answers, errors = [], []

    def worker():
        try:
            start.wait()
            answers.append(reference_profile(dataset)[0])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert ReferenceProfile.objects.filter(dataset=dataset).count() == 1
    assert answers[0] == answers[1] and answers[0]["rows"] == 5000


def test_datasets_and_profiles_live_on_s3_like_artifacts(alice, teams, bucket):  # noqa: F811
    model = fraud_model(alice, teams["fraud"])
    frame = transactions(rows=500)
    dataset = store_dataset(
        actor=alice,
        model=model,
        file=io.BytesIO(frame.to_csv(index=False).encode()),
        filename="reference.csv",
        kind="reference",
    )

    keys = {item.key for item in bucket.objects.all()}
    assert f"monitoring/datasets/{model.pk}/" in dataset.storage_name
    assert dataset.storage_name in keys
    assert any(k.startswith(f"monitoring/profiles/{model.pk}/") for k in keys)
    back = pd.concat(read_chunks(dataset, rows=200))
    pd.testing.assert_frame_equal(back.reset_index(drop=True), frame, check_dtype=False)
    _, sorted_column = reference_profile(dataset)
    np.testing.assert_array_equal(sorted_column("hour"), np.sort(frame["hour"].to_numpy()))

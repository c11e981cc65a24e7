"""The demo's monitoring data: uploads that match the demo model, with drift and a fairness gap."""

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio

from monitoring.datasets import batches_between, default_datasets, read_chunks
from monitoring.demo import seed_monitoring_demo
from monitoring.models import Dataset, ReferenceProfile
from registry.demo import seed_demo
from registry.models import RegisteredModel

TODAY = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The registry's demo once for the module (training its models takes a while), with the
    monitoring data on top; removed again at the end."""
    with django_db_blocker.unblock():
        seed_demo()
        started = time.monotonic()
        made = seed_monitoring_demo(today=TODAY)
        took = time.monotonic() - started
        yield RegisteredModel.objects.get(name="fraud-detector"), made, took
        from django.core.management import call_command

        # Ids go on from here, so no later test's model shares a folder with the demo's files.
        call_command("flush", interactive=False, verbosity=0, reset_sequences=False)


def frame_of(dataset: Dataset) -> pd.DataFrame:
    return pd.concat(read_chunks(dataset))


@pytest.mark.django_db
def test_it_uploads_reference_evaluation_and_four_weeks_of_batches_quickly(demo):
    model, made, took = demo

    assert made == 30 and took < 10, took
    found = default_datasets(model)
    reference, evaluation = found["reference"], found["evaluation"]
    assert reference.checked_against.number == 4  # the latest version's signature
    assert ReferenceProfile.objects.filter(dataset=reference).exists()
    assert evaluation.label_column == "is_fraud" and evaluation.protected_columns == [
        "age_band",
        "region",
    ]
    batches = list(batches_between(model, TODAY - timedelta(days=28), TODAY))
    assert len(batches) == 28
    days = [b.observed_at.date() for b in batches]
    assert days == [days[0] + timedelta(days=i) for i in range(28)]
    assert [bool(b.label_column) for b in batches] == [True] * 25 + [False] * 3
    assert all(b.prediction_column == "predicted" and b.score_column == "score" for b in batches)


@pytest.mark.django_db
def test_it_seeds_once(demo):
    model, _, _ = demo

    assert seed_monitoring_demo(today=TODAY) == 0
    assert Dataset.objects.filter(model=model).count() == 30


@pytest.mark.django_db
def test_the_later_weeks_drift_on_three_features_and_no_others(demo):
    model, _, _ = demo
    reference = frame_of(default_datasets(model)["reference"])
    batches = list(batches_between(model, TODAY - timedelta(days=28), TODAY))
    first_week = pd.concat(frame_of(b) for b in batches[:7])
    last_week = pd.concat(frame_of(b) for b in batches[-7:])

    def shift(frame, column):
        return abs(frame[column].mean() - reference[column].mean()) / reference[column].std()

    drifting = {"amount", "merchant_risk", "distance_from_home_km"}
    for column in reference.columns.drop(["is_fraud", "predicted", "score", "age_band", "region"]):
        assert shift(first_week, column) < 0.15, column
        assert bool(shift(last_week, column) > 0.5) is (column in drifting), column


@pytest.mark.django_db
def test_young_customers_are_flagged_far_more_often(demo):
    model, _, _ = demo
    batches = list(batches_between(model, TODAY - timedelta(days=28), TODAY))
    rows = pd.concat(frame_of(b) for b in batches[:7])

    ratio = demographic_parity_ratio(
        rows["is_fraud"], rows["predicted"], sensitive_features=rows["age_band"]
    )
    rates = rows.groupby("age_band")["predicted"].mean()

    assert ratio < 0.8  # fails the four-fifths rule
    assert rates.idxmax() == "18-29"
    assert np.isclose(ratio, rates.min() / rates.max())

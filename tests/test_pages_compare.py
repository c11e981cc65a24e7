"""The compare page: two versions' metrics, parameters and lineage side by side."""

import pytest
from django.urls import reverse

from .page_factories import assert_strict_page, pushed_version, registered_model


@pytest.fixture
def model(alice, teams):
    model = registered_model(alice, teams["fraud"])
    pushed_version(
        alice,
        model,
        params={"C": 1.0, "penalty": "l2", "seed": 7},
        metrics={"auc": 0.9, "f1": 0.8},
        git_commit="aaaa1111",
    )
    pushed_version(
        alice,
        model,
        params={"C": 0.5, "penalty": "l2", "seed": 7, "solver": "saga"},
        metrics={"auc": 0.95, "f1": 0.8},
        git_commit="bbbb2222",
    )
    return model


def compare(client, model, **query):
    return client.get(reverse("registry:compare", args=[model.name]), query)


def test_it_highlights_the_rows_that_differ_with_metric_deltas(client, alice, model):
    client.force_login(alice)
    response = compare(client, model, a=1, b=2)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<tr class="differs">\n            <th scope="row">auc' in html
    assert '<td class="num">+0.05</td>' in html
    assert '<tr>\n            <th scope="row">f1</th>' in html
    assert '<tr class="differs">\n            <th scope="row">C' in html
    assert '<tr>\n            <th scope="row">penalty</th>' in html
    assert '<th scope="row">solver<span class="visually-hidden"> (differs)</span></th>' in html
    assert "aaaa1111" in html and "bbbb2222" in html
    assert_strict_page(response)


def test_without_two_versions_it_offers_the_picker(client, alice, model):
    client.force_login(alice)
    html = compare(client, model).content.decode()
    assert 'name="a"' in html and 'name="b"' in html
    assert "Choose two versions" in html


def test_it_is_not_found_for_a_missing_version_or_for_mallory(client, alice, people, model):
    client.force_login(alice)
    assert compare(client, model, a=1, b=9).status_code == 404
    client.force_login(people["mallory"])
    assert compare(client, model, a=1, b=2).status_code == 404


def test_the_model_page_links_its_picker_here(client, alice, model):
    client.force_login(alice)
    html = client.get(reverse("registry:model_detail", args=[model.name])).content.decode()
    assert f'method="get" action="{reverse("registry:compare", args=[model.name])}"' in html

"""The models list at `/`: filters, htmx partial, pagination and constant query count."""

import pytest
from django.urls import reverse

from registry import services
from registry.models import Stage
from tests.promotions import promote

from .page_factories import (
    PASSWORD,
    assert_strict_page,
    count_queries,
    pushed_version,
    registered_model,
)

URL = reverse("registry:model_list")


@pytest.fixture
def catalogue(people, teams):
    alice, bob, mallory = people["alice"], people["bob"], people["mallory"]
    fraud = registered_model(
        alice, teams["fraud"], "fraud-detector", description="Card fraud scores", tags=["cards"]
    )
    churn = registered_model(alice, teams["fraud"], "churn", task_type="regression")
    for _ in range(3):
        pushed_version(alice, fraud)
    promote(fraud.versions.get(number=2), Stage.PRODUCTION, author=alice, approver=bob)
    promote(fraud.versions.get(number=3), Stage.STAGING, author=alice, approver=bob)
    registered_model(mallory, teams["growth"], "growth-secret")
    return {"fraud": fraud, "churn": churn}


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_the_models_of_my_teams_with_stages_and_latest_version(client, alice, catalogue):
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "fraud-detector" in html and "churn" in html
    assert "growth-secret" not in html
    assert "Production v2" in html and "Staging v3" in html
    assert "v3" in html and "Regression" in html and "cards" in html
    assert_strict_page(response)


def test_it_hides_other_teams_models_from_mallory(client, people, catalogue):
    client.force_login(people["mallory"])
    html = client.get(URL).content.decode()
    assert "growth-secret" in html
    assert "fraud-detector" not in html


@pytest.mark.parametrize(
    "query, shown, hidden",
    [
        ({"search": "card fraud"}, "fraud-detector", "churn"),
        ({"tag": "cards"}, "fraud-detector", "churn"),
        ({"stage": "production"}, "fraud-detector", "churn"),
        ({"team": "fraud", "search": "churn"}, "churn", "fraud-detector"),
    ],
)
def test_it_filters_by_search_tag_stage_and_team(client, alice, catalogue, query, shown, hidden):
    client.force_login(alice)
    html = client.get(URL, query).content.decode()
    assert f">{shown}</a>" in html
    assert f">{hidden}</a>" not in html


def test_it_ignores_a_filter_value_that_is_not_a_choice(client, alice, catalogue):
    client.force_login(alice)
    html = client.get(URL, {"team": "growth"}).content.decode()
    assert ">fraud-detector</a>" in html


def test_it_renders_only_the_table_for_htmx_and_varies_on_it(client, alice, catalogue):
    client.force_login(alice)
    response = client.get(URL, {"tag": "cards"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="model-table"')
    assert "<html" not in html and ">fraud-detector</a>" in html
    assert "HX-Request" in response["Vary"]


def test_it_renders_the_whole_page_when_htmx_restores_history(client, alice, catalogue):
    client.force_login(alice)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in client.get(URL, headers=headers).content.decode()


def test_the_filters_work_as_a_plain_get_form(client, alice, catalogue):
    client.force_login(alice)
    html = client.get(URL).content.decode()
    assert f'method="get" action="{URL}"' in html
    assert 'name="search"' in html and 'name="team"' in html
    assert '<option value="cards">cards</option>' in html


def test_it_shows_25_models_a_page(client, alice, teams):
    for number in range(27):
        registered_model(alice, teams["fraud"], f"model-{number:02}")
    client.force_login(alice)
    first = client.get(URL).content.decode()
    second = client.get(URL, {"page": 2}).content.decode()
    assert first.count('class="strong" href="/models/') == 25
    assert second.count('class="strong" href="/models/') == 2
    assert "Page 2 of 2" in second


def test_it_runs_the_same_number_of_queries_for_3_or_30_models(client, alice, bob, teams):
    def add_models(start, count):
        for number in range(start, start + count):
            model = registered_model(
                alice, teams["fraud"], f"model-{number:02}", tags=[f"tag-{number}", "shared"]
            )
            version = pushed_version(alice, model)
            promote(version, Stage.STAGING, author=alice, approver=bob)
            services.set_alias(actor=bob, version=version, alias="champion")

    client.force_login(alice)
    add_models(0, 3)
    few = count_queries(client, URL)
    add_models(3, 27)
    assert count_queries(client, URL) == few


def test_the_login_page_logs_alice_in(client, alice):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert_strict_page(page)
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("reviews:home")  # the reviewer's home


def test_the_login_page_says_when_the_password_is_wrong(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_is_a_post_form_in_the_header(client, alice):
    client.force_login(alice)
    html = client.get(URL).content.decode()
    assert f'method="post" action="{reverse("logout")}"' in html
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(URL).status_code == 302

"""A model's History tab: its audit events in words, filtered, paged, and for its members only."""

import re
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from django.utils import timezone

from registry import services

from .audit_events import logged, rows, verbs
from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model

URL = "/models/fraud-detector/history/"


@pytest.fixture
def model(people, teams, registry_alone):
    alice, bob = people["alice"], people["bob"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    first = pushed_version(alice, model)
    pushed_version(alice, model)
    services.set_stage(actor=bob, version=first, stage="staging", reason="smoke tests passed")
    services.set_alias(actor=bob, version=first, alias="champion")
    registered_model(alice, teams["fraud"], "other-model")
    registered_model(people["mallory"], teams["growth"], "churn")
    return model


def test_it_lists_the_models_events_newest_first_in_words(client, alice, model):
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200
    listed = rows(response.content.decode())
    assert verbs(response.content.decode()) == [
        "alias.set",
        "stage.moved",
        "version.registered",
        "version.registered",
        "model.created",
    ]
    moved = listed[1]
    assert "moved the version to Staging" in moved and "bob" in moved
    assert "smoke tests passed" in moved and "stage: none</span> → stage: staging" in moved
    assert "pointed the alias at v1" in listed[0] and "fraud-detector@champion" in listed[0]
    assert "other-model" not in response.content.decode()
    assert_strict_page(response)


def test_it_says_how_each_change_was_made_and_with_which_token(client, api_as, alice, bob, model):
    devops = api_as(bob)  # a token named "ci"
    moved = devops.post(
        "/api/v1/models/fraud-detector/versions/2/stage/", {"stage": "production"}, format="json"
    )
    assert moved.status_code == 200
    client.force_login(alice)
    newest = rows(client.get(URL).content.decode())[0]
    assert "moved the version to Production" in newest and "API · token “ci”" in newest
    direct = rows(client.get(URL + "?verb=alias.set").content.decode())[0]
    assert "manage.py" in direct and "token" not in direct  # a service called directly


def test_the_model_page_and_the_history_share_overview_and_history_tabs(client, alice, model):
    client.force_login(alice)
    overview = client.get("/models/fraud-detector/").content.decode()
    history = client.get(URL).content.decode()
    tabs = '<a href="/models/fraud-detector/"{}>Overview</a>'
    assert tabs.format(' aria-current="page"') in overview
    assert f'<a href="{URL}">History</a>' in overview
    assert (
        tabs.format("") in history and f'<a href="{URL}" aria-current="page">History</a>' in history
    )


def test_the_version_page_links_to_the_history_of_that_version(client, alice, model):
    client.force_login(alice)
    page = client.get("/models/fraud-detector/versions/1/").content.decode()
    link = f"{URL}?object={quote_plus('fraud-detector v1')}"
    assert f'href="{link}"' in page
    history = client.get(link).content.decode()
    listed = rows(history)
    assert verbs(history) == [
        "stage.moved",
        "version.registered",
    ]
    assert all("fraud-detector v1" in row for row in listed)


def test_it_filters_by_who_what_object_and_day(client, alice, model):
    client.force_login(alice)

    def verbs_of(query):
        return verbs(client.get(URL + query).content.decode())

    assert verbs_of("?actor=bob") == ["alias.set", "stage.moved"]
    assert verbs_of("?verb=version.registered&object=fraud-detector+v2") == ["version.registered"]
    today = timezone.localdate()
    assert len(verbs_of(f"?since={today}&until={today}")) == 5
    yesterday = today - timedelta(days=1)
    empty = client.get(f"{URL}?until={yesterday}").content.decode()
    assert "No events match these filters." in empty
    assert len(verbs_of(f"?since={today.isoformat()}T00:00:00Z&actor=alice")) == 3


def test_the_verb_filter_offers_the_verbs_of_this_model_in_words(client, alice, model):
    client.force_login(alice)
    html = client.get(URL + "?verb=stage.moved").content.decode()
    select = re.search(r'<select id="f-verb".*?</select>', html, re.DOTALL)[0]
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
    assert [(value, words) for value, _, words in options if value] == [
        ("alias.set", "pointed an alias at a version (alias.set)"),
        ("model.created", "created the model (model.created)"),
        ("stage.moved", "moved a version to a stage (stage.moved)"),
        ("version.registered", "registered a version (version.registered)"),
    ]
    assert ("stage.moved", " selected") == next((v, s) for v, s, _ in options if s)
    assert 'name="team"' not in html  # one model: one team


def test_a_time_it_cannot_read_is_a_400_that_says_so(client, alice, model):
    client.force_login(alice)
    response = client.get(URL + "?since=yesterday")
    assert response.status_code == 400
    assert "since must be a date (2026-12-01) or an ISO 8601 time" in response.content.decode()
    assert len(rows(response.content.decode())) == 5  # the unfiltered history, below the error


def test_it_shows_events_of_the_other_apps_in_words(client, alice, teams, model):
    logged(
        team=teams["fraud"],
        model="fraud-detector",
        verb="review.given",
        actor=alice,
        object_type="request",
        object_name="request #1",
        after={"decision": "approve"},
    )
    logged(team=teams["fraud"], model="fraud-detector", verb="evaluation.finished")
    client.force_login(alice)
    listed = rows(client.get(URL).content.decode())
    assert "evaluation finished" in listed[0]
    assert "approved a promotion request" in listed[1] and "request #1" in listed[1]


def test_what_people_wrote_is_shown_inert(client, alice, teams, model):
    logged(
        team=teams["fraud"],
        model="fraud-detector",
        verb="comment.edited",
        object_name="<img src=x onerror=alert(1)>",
        reason="<script>alert(2)</script>",
        after={"body": "<b>bold</b>"},
    )
    client.force_login(alice)
    html = client.get(URL).content.decode()
    assert "<script>alert(2)" not in html and "&lt;script&gt;alert(2)" in html
    assert "<img src=x" not in html and "<b>bold</b>" not in html


def test_it_pages_fifty_at_a_time_keeping_the_filters(client, alice, teams, model):
    logged(60, team=teams["fraud"], model="fraud-detector", verb="comment.posted")
    client.force_login(alice)
    first = client.get(URL + "?verb=comment.posted").content.decode()
    assert len(rows(first)) == 50 and "Page 1 of 2" in first
    assert '<a href="?verb=comment.posted&amp;page=2">Older</a>' in first
    second = client.get(URL + "?verb=comment.posted&page=2").content.decode()
    assert (
        len(rows(second)) == 10 and '<a href="?verb=comment.posted&amp;page=1">Newer</a>' in second
    )


def test_the_export_link_carries_the_model_and_the_filters(client, alice, model):
    client.force_login(alice)
    html = client.get(URL + "?actor=bob&verb=stage.moved").content.decode()
    assert (
        'href="/api/v1/audit/?model=fraud-detector&amp;actor=bob&amp;verb=stage.moved&amp;format=csv"'
        in html
    )


def test_its_queries_do_not_grow_with_the_events(client, alice, teams, model):
    client.force_login(alice)
    few = count_queries(client, URL)
    logged(40, team=teams["fraud"], model="fraud-detector", actor=alice)
    assert count_queries(client, URL) == few <= 8


def test_only_the_models_team_sees_it_and_nobody_changes_it(client, people, model):
    client.force_login(people["mallory"])
    assert client.get(URL).status_code == 404
    client.force_login(people["victor"])  # a viewer reads the whole history
    assert len(rows(client.get(URL).content.decode())) == 5
    assert client.post(URL, {"verb": "x"}).status_code == 405
    client.logout()
    assert client.get(URL).status_code == 302

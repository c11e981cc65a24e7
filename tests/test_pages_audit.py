"""The team-wide audit log page: filters by team, who, what, object and day; export; nav."""

import csv
import html as html_lib
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Membership, Role
from registry import services

from .audit_events import logged, rows, verbs
from .page_factories import assert_strict_page, count_queries, pushed_version, registered_model

URL = "/audit/"


@pytest.fixture
def dave(people, teams, registry_alone):
    """A DevOps engineer in both teams, fraud and growth, after each made a model."""
    alice, bob, mallory = people["alice"], people["bob"], people["mallory"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    version = pushed_version(alice, model)
    services.set_stage(actor=bob, version=version, stage="staging")
    churn = registered_model(mallory, teams["growth"], "churn")
    pushed_version(mallory, churn)
    dave = User.objects.create_user("dave", "dave@example.com", "pw")
    for team in teams.values():
        Membership.objects.create(user=dave, team=team, role=Role.DEVOPS)
    return dave


def test_it_lists_the_events_of_every_team_of_mine_with_their_team(client, dave):
    client.force_login(dave)
    response = client.get(URL)
    html = response.content.decode()
    assert verbs(html) == [
        "version.registered",
        "model.created",
        "stage.moved",
        "version.registered",
        "model.created",
    ]
    assert '<div class="muted small">growth</div>' in rows(html)[0]
    assert '<div class="muted small">fraud</div>' in rows(html)[2]
    assert_strict_page(response)


def test_the_nav_leads_to_it(client, dave):
    client.force_login(dave)
    html = client.get("/").content.decode()
    assert '<a href="/audit/">Audit log</a>' in html
    assert '<a href="/audit/" aria-current="page">Audit log</a>' in client.get(URL).content.decode()


def test_it_filters_by_team_verb_object_who_and_day(client, dave):
    client.force_login(dave)
    assert verbs(client.get(URL + "?team=growth").content.decode()) == [
        "version.registered",
        "model.created",
    ]
    assert verbs(client.get(URL + "?verb=model.created&team=fraud").content.decode()) == [
        "model.created"
    ]
    assert verbs(client.get(URL + "?object=fraud-detector+v1").content.decode()) == [
        "stage.moved",
        "version.registered",
    ]
    assert verbs(client.get(URL + "?actor=bob").content.decode()) == ["stage.moved"]
    assert verbs(client.get(URL + "?model=churn").content.decode()) == [
        "version.registered",
        "model.created",
    ]
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert verbs(client.get(f"{URL}?since={tomorrow}").content.decode()) == []
    assert len(verbs(client.get(f"{URL}?until={timezone.localdate()}").content.decode())) == 5


def test_its_selects_offer_the_teams_and_verbs_there_are(client, dave):
    client.force_login(dave)
    html = client.get(URL + "?team=growth").content.decode()
    team = re.search(r'<select id="f-team".*?</select>', html, re.DOTALL)[0]
    assert re.findall(r'<option value="(\w*)"', team) == ["", "fraud", "growth"]
    assert '<option value="growth" selected>' in team
    verb = re.search(r'<select id="f-verb".*?</select>', html, re.DOTALL)[0]
    assert re.findall(r'<option value="([\w.]*)"', verb) == [
        "",
        "model.created",
        "stage.moved",
        "version.registered",
    ]
    unknown = client.get(URL + "?verb=evaluation.finished").content.decode()
    assert '<option value="evaluation.finished" selected>evaluation finished' in unknown
    assert "No events match these filters." in unknown
    actors = re.search(r'<datalist id="f-actors">.*?</datalist>', html, re.DOTALL)[0]
    assert re.findall(r'<option value="(\w+)">', actors) == ["alice", "bob", "mallory"]
    assert 'type="date"' in html and 'name="since"' in html and 'name="until"' in html


def test_the_export_link_downloads_the_rows_the_page_shows(client, dave):
    client.force_login(dave)
    html = client.get(URL + "?team=fraud&verb=version.registered").content.decode()
    link = html_lib.unescape(re.search(r'href="([^"]*)">Export CSV</a>', html)[1])
    assert link == "/api/v1/audit/?team=fraud&verb=version.registered&format=csv"
    download = client.get(link)
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [(line["verb"], line["object"], line["team"]) for line in lines] == [
        ("version.registered", "fraud-detector v1", "fraud")
    ]


def test_its_queries_do_not_grow_with_the_events(client, dave, teams):
    client.force_login(dave)
    few = count_queries(client, URL)
    logged(30, team=teams["fraud"], model="fraud-detector")
    logged(30, team=teams["growth"], model="churn", verb="thread.resolved")
    assert count_queries(client, URL) == few <= 8


def test_a_page_of_the_log_has_nothing_to_post(client, dave):
    client.force_login(dave)
    html = client.get(URL).content.decode()
    forms = re.findall(r"<form[^>]*>", html)
    assert [f for f in forms if 'method="post"' in f] == [
        '<form method="post" action="/accounts/logout/">'
    ]
    assert client.post(URL).status_code == 405

"""GET /api/v1/audit/?format=csv: the log as a download, streamed, filtered as the JSON list is,
and safe to open in a spreadsheet."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.api.export import COLUMNS
from registry import services

from .audit_events import logged
from .page_factories import pushed_version, registered_model


@pytest.fixture
def fraud_events(people, teams, registry_alone):
    alice, bob = people["alice"], people["bob"]
    model = registered_model(alice, teams["fraud"], "fraud-detector")
    version = pushed_version(alice, model)
    services.set_stage(actor=bob, version=version, stage="staging", reason="looks good")
    registered_model(people["mallory"], teams["growth"], "churn")


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_it_downloads_the_events_as_csv_newest_first(api_as, alice, fraud_events):
    response = api_as(alice).get("/api/v1/audit/?format=csv&team=fraud")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="vetted-audit-') and disposition.endswith(
        '.csv"'
    )
    lines = read_csv(response)
    assert list(lines[0]) == COLUMNS
    assert [(line["verb"], line["object"], line["actor"]) for line in lines] == [
        ("stage.moved", "fraud-detector v1", "bob"),
        ("version.registered", "fraud-detector v1", "alice"),
        ("model.created", "fraud-detector", "alice"),
    ]
    moved = lines[0]
    assert moved["in_words"] == "moved the version to Staging"
    assert (
        moved["channel"] == "command"
        and moved["team"] == "fraud"
        and moved["reason"] == "looks good"
    )
    assert json.loads(moved["before"]) == {"stage": "none"}
    assert json.loads(moved["after"]) == {"stage": "staging"}
    assert moved["at"].startswith("20") and "T" in moved["at"]


def test_it_takes_the_same_filters_as_the_json_list(api_as, alice, fraud_events):
    client = api_as(alice)
    for query in (
        "",
        "?model=fraud-detector",
        "?actor=alice",
        "?verb=version.registered",
        "?object=fraud-detector+v1",
        "?team=growth",
        "?since=2000-01-01&until=2999-12-31",
    ):
        listed = client.get("/api/v1/audit/" + query).json()["results"]
        separator = "&" if query else "?"
        exported = read_csv(client.get(f"/api/v1/audit/{query}{separator}format=csv"))
        assert [(e["verb"], e["object"]["name"]) for e in listed] == [
            (line["verb"], line["object"]) for line in exported
        ], query


def test_an_empty_export_still_has_its_header(api_as, alice, fraud_events):
    response = api_as(alice).get("/api/v1/audit/?format=csv&team=growth")
    assert b"".join(response.streaming_content).decode().strip() == ",".join(COLUMNS)


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tpadded", "\rreturn"],
)
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_kept_as_text(api_as, alice, teams, cell):
    logged(team=teams["fraud"], model="fraud-detector", actor=alice, object_name=cell, reason=cell)
    [line] = read_csv(api_as(alice).get("/api/v1/audit/?format=csv&team=fraud"))
    assert line["object"] == line["reason"] == "'" + cell


def test_a_harmless_cell_is_left_as_it_is(api_as, alice, teams):
    logged(team=teams["fraud"], actor=alice, object_name="v1 = better", reason='a-b, "quoted"')
    [line] = read_csv(api_as(alice).get("/api/v1/audit/?format=csv&team=fraud"))
    assert (line["object"], line["reason"]) == ("v1 = better", 'a-b, "quoted"')


def test_a_large_log_is_streamed_in_batches_with_queries_that_do_not_grow(
    needs_postgres, client, alice, teams
):
    client.force_login(alice)

    def export() -> tuple[int, int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/audit/?format=csv&team=fraud")
            chunks = list(response.streaming_content)
        return len(chunks), len(b"".join(chunks).decode().splitlines()) - 1, len(queries)

    logged(10, team=teams["fraud"])
    small_chunks, small_rows, small_queries = export()
    logged(1190, team=teams["fraud"])
    chunks, rows, queries = export()
    assert (small_rows, rows) == (10, 1200)
    assert (small_chunks, chunks) == (2, 4)  # the header, then 500 rows at a time
    assert queries == small_queries


def test_a_refused_export_answers_json(api_as, alice, fraud_events):
    bad_time = api_as(alice).get("/api/v1/audit/?format=csv&since=yesterday")
    assert bad_time.status_code == 400 and "ISO 8601" in bad_time.json()["error"]["message"]
    for bad in ("xlsx", ""):
        assert api_as(alice).get(f"/api/v1/audit/?format={bad}").status_code == 400
    bad_format = api_as(alice).get("/api/v1/audit/?format=xlsx")
    assert bad_format.json()["error"]["detail"] == {
        "format": ["Ask for json (the default) or csv."]
    }
    anonymous = APIClient().get("/api/v1/audit/?format=csv")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
    assert api_as(alice).get("/api/v1/audit/?format=json").status_code == 200


def test_a_browser_session_downloads_it_too(client, alice, fraud_events):
    client.force_login(alice)
    assert len(read_csv(client.get("/api/v1/audit/?format=csv&model=fraud-detector"))) == 3

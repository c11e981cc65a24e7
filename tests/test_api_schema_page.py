"""The schema's address: a browser shows it as a page; API clients get the file as before."""

import json

import pytest
import yaml

from .page_factories import assert_strict_page

SCHEMA = "/api/v1/schema/"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def test_a_browser_is_shown_the_schema_as_a_page(client):
    response = client.get(SCHEMA, headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert not response.get("Content-Disposition", "").startswith("attachment")
    html = response.content.decode()
    assert "<h1>API schema</h1>" in html
    assert "openapi: 3.0.3" in html and "/api/v1/models/{name}/stages/{stage}:" in html
    assert 'href="/api/v1/docs/"' in html
    assert_strict_page(response)


@pytest.mark.parametrize(
    ("headers", "query", "media_type", "load"),
    [
        ({}, "", "application/vnd.oai.openapi", yaml.safe_load),
        ({"Accept": "*/*"}, "", "application/vnd.oai.openapi", yaml.safe_load),
        (
            {"Accept": "application/vnd.oai.openapi"},
            "",
            "application/vnd.oai.openapi",
            yaml.safe_load,
        ),
        ({"Accept": "application/json"}, "", "application/json", json.loads),
        ({}, "?format=json", "application/vnd.oai.openapi+json", json.loads),
        ({"Accept": BROWSER}, "?format=json", "application/vnd.oai.openapi+json", json.loads),
        ({"Accept": BROWSER}, "?format=yaml", "application/vnd.oai.openapi", yaml.safe_load),
    ],
)
def test_api_clients_and_download_links_get_the_schema_itself(
    client, headers, query, media_type, load
):
    response = client.get(SCHEMA + query, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == media_type
    assert load(response.content)["openapi"] == "3.0.3"

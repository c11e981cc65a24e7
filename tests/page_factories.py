"""Factories and checks shared by the page tests: models and versions made through the services."""

import io
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services

PASSWORD = "correct-horse-battery"

# Data blocks (json_script's type="application/json") are never run, so the CSP lets them be.
INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE
)
INLINE_STYLE = re.compile(r"<style|<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)


def registered_model(actor, team, name="fraud-detector", **fields):
    return services.create_model(actor=actor, name=name, team=team, **fields)


def pushed_version(actor, model, files=(("model.pkl", b"weights"),), **lineage):
    """A version registered as CI would; `files` are (path, bytes) pairs, one by default."""
    upload = services.Upload(files=[(path, io.BytesIO(content)) for path, content in files])
    version, _ = services.register_version(
        actor=actor, model=model, lineage=services.Lineage(**lineage), upload=upload
    )
    return version


def assert_strict_page(response):
    """The CSP header is sent and the HTML holds nothing it would block: no inline code."""
    assert "script-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


def count_queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(queries)

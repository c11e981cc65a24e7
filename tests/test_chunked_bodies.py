"""A body sent without a Content-Length (Transfer-Encoding: chunked) is refused with 411, never
read as empty: under gunicorn, as in production, and under Django's test client alike."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from registry.models import ModelVersion, RegisteredModel
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parent.parent
MULTIPART = "multipart/form-data; boundary=b"
BODY = (
    b'--b\r\nContent-Disposition: form-data; name="team"\r\n\r\nfraud\r\n'
    b'--b\r\nContent-Disposition: form-data; name="files"; filename="model.pkl"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\nweights\r\n--b--\r\n"
)


@pytest.fixture
def gunicorn(needs_postgres, transactional_db):
    """Vetted served by gunicorn with its own settings (vetted/gunicorn_conf.py), one worker."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "vetted.wsgi",
            "--config",
            "python:vetted.gunicorn_conf",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def chunks():
    yield BODY[:40]
    yield BODY[40:]


def test_gunicorn_answers_a_chunked_upload_411_and_makes_no_version(gunicorn, alice, token_for):
    headers = {"Authorization": f"Bearer {token_for(alice)}", "Content-Type": MULTIPART}
    url = f"{gunicorn}/api/v1/models/m/versions/"

    sized = httpx.post(url, headers=headers, content=BODY, timeout=30)
    assert sized.status_code == 201, sized.text  # the same body with its length is stored
    chunked = httpx.post(url, headers=headers, content=chunks(), timeout=30)

    assert chunked.request.headers["Transfer-Encoding"] == "chunked"
    assert chunked.status_code == 411, chunked.text
    assert "Send the body with a Content-Length header" in chunked.json()["error"]["message"]
    assert chunked.json()["error"]["code"] == "length_required"
    assert ModelVersion.objects.count() == 1


def test_gunicorn_answers_a_chunked_page_form_411(gunicorn, alice):
    response = httpx.post(f"{gunicorn}/accounts/login/", content=chunks(), timeout=30)
    assert response.status_code == 411
    assert "Content-Length" in response.text


def test_the_test_client_gets_the_same_411(api_as, alice):
    response = api_as(alice).generic(
        "POST",
        "/api/v1/models/m/versions/",
        BODY,
        content_type=MULTIPART,
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    assert response.status_code == 411
    assert response.json()["error"]["code"] == "length_required"
    assert not RegisteredModel.objects.exists()

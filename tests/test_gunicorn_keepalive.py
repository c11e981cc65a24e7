"""gunicorn as production runs it keeps an idle connection open longer than a client waits
between two looks at a running job (the CLI's `evaluate --wait`), so the next look is sent on an
open connection instead of racing its close."""

import http.client
import time
from urllib.parse import urlsplit

from cli.vetted_cli import EVALUATION_POLL_SECONDS
from tests.test_chunked_bodies import gunicorn  # noqa: F401 - a fixture


def look(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/healthz", headers={"Connection": "keep-alive"})
    response = connection.getresponse()
    response.read()
    return response.status


def test_a_connection_idle_for_longer_than_the_clis_poll_is_still_open(gunicorn):  # noqa: F811
    address = urlsplit(gunicorn)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        assert look(connection) in (200, 503)
        opened = connection.sock
        assert opened is not None  # the server did not ask to close it
        time.sleep(EVALUATION_POLL_SECONDS + 1)
        # On a connection the server closed meanwhile this raises RemoteDisconnected.
        assert look(connection) in (200, 503)
        assert connection.sock is opened  # the same connection, not a new one
    finally:
        connection.close()

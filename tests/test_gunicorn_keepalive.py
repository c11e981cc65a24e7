"""gunicorn as production runs it keeps an idle connection open longer than a client waits
between two looks at a running job (the CLI's `evaluate --wait`), so the next look is sent on an
open connection instead of racing its close."""

import socket
import time
from urllib.parse import urlsplit

from cli.vetted_cli import EVALUATION_POLL_SECONDS
from tests.test_chunked_bodies import gunicorn  # noqa: F401 - a fixture

LOOK = b"GET /healthz HTTP/1.1\r\nHost: vetted\r\nConnection: keep-alive\r\n\r\n"


def answer(connection: socket.socket) -> bytes:
    """One whole response (headers and the Content-Length body), or what came before EOF."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head


def test_a_connection_idle_for_longer_than_the_clis_poll_is_still_open(gunicorn):  # noqa: F811
    address = urlsplit(gunicorn)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(LOOK)
        assert answer(connection).startswith(b"HTTP/1.1 200")
        time.sleep(EVALUATION_POLL_SECONDS + 1)
        connection.sendall(LOOK)
        assert answer(connection).startswith(b"HTTP/1.1 200")

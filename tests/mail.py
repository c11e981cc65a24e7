"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent, and the settings that
make Vetted send there: `smtp_port` (a fixture) points Vetted at a free port, `smtp` starts a
server on it when the test says (`smtp.start()` returns its mailbox)."""

import asyncio
import email
import socket
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller


class Mailbox:
    """An SMTP server's handler: keeps each message it accepts. `stall_next` makes it hold the
    next message without answering, as a server that hangs mid-send."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.stall_next = False
        self.stalled = threading.Event()
        self.delay = 0.0
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stall_next:
            self.stall_next = False
            self.stalled.set()
            await asyncio.sleep(60)
            return "451 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_port(settings):
    """A loopback port Vetted sends e-mail to; nothing listens there until a server starts."""
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 10
    settings.SITE_URL = "https://vetted.example.com"
    return port


class SmtpServer:
    def __init__(self, port: int):
        self.port = port
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> Mailbox:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self.mailbox

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(smtp_port):
    server = SmtpServer(smtp_port)
    yield server
    server.stop()

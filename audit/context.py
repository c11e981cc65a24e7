"""Through which channel, and with which token, the current change is made.

Set once at each edge (the middleware for pages and the API, token authentication, a task)
and read by `audit.services.record()`, so no service needs it passed through every call.
Anything that sets nothing (manage.py, the shell) is the `command` channel.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .models import Channel


@dataclass(frozen=True)
class Origin:
    channel: str = Channel.COMMAND
    token_id: int | None = None
    token_name: str = ""


COMMAND = Origin()
_origin: ContextVar[Origin] = ContextVar("audit_origin", default=COMMAND)  # noqa: B039 (frozen)


def current() -> Origin:
    return _origin.get()


def set_origin(origin: Origin) -> None:
    """For the request being handled: the middleware resets it when the response is done."""
    _origin.set(origin)


@contextmanager
def origin(channel: str, **token) -> Iterator[None]:
    mark = _origin.set(Origin(channel=channel, **token))
    try:
        yield
    finally:
        _origin.reset(mark)


def channel_of_request(path: str, user_agent: str) -> str:
    if path.startswith("/mlflow/"):
        return Channel.MLFLOW
    if not path.startswith("/api/"):
        return Channel.WEB
    return Channel.CLI if user_agent.startswith("vetted-cli") else Channel.API

"""MLflow's REST wire format: endpoints, parameters, errors, auth, page tokens, timestamps.

Every handler is a plain function `handler(call) -> dict` registered with `@endpoint`; the
dispatcher (views.py) authenticates, parses the parameters, calls it and answers exactly what
MLflow's client expects: 200 with a JSON object, or `{"error_code", "message"}` with the HTTP
status MLflow gives that code (mlflow/protos/databricks.proto, mlflow/exceptions.py).
"""

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.http import QueryDict

from accounts.models import ApiToken, Team, TokenScope

# MLflow's error codes and the HTTP status its server answers with for each.
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
INTERNAL_ERROR = "INTERNAL_ERROR"
STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    RESOURCE_ALREADY_EXISTS: 400,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    ENDPOINT_NOT_FOUND: 404,
    RESOURCE_CONFLICT: 409,
    REQUEST_LIMIT_EXCEEDED: 429,
    INTERNAL_ERROR: 500,
}


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS[code]

    def body(self) -> dict:
        return {"error_code": self.code, "message": self.message}


def invalid(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def not_found(message: str) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, message)


@dataclass
class Call:
    """One request as a handler sees it: who calls, and its parameters.

    GET parameters come from the query string (a list is the key repeated); POST, PATCH and
    DELETE send a JSON object. The getters check types and name the parameter in their errors.
    """

    method: str
    user: User
    token: ApiToken
    query: QueryDict
    body: dict = field(default_factory=dict)
    request: object = None  # the HttpRequest, for the few handlers that stream its body
    subpath: str = ""  # what follows a prefix endpoint's path (an artifact's path)

    def _raw(self, name: str):
        if self.method == "GET":
            values = self.query.getlist(name)
            return values[-1] if values else None
        value = self.body.get(name)
        if value is None and name in self.query:  # some clients put ids in the query anyway
            return self.query.get(name)
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or isinstance(value, dict | list):
            raise invalid(f"Parameter '{name}' must be a string, not {json.dumps(value)[:80]}.")
        return str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None or value == "":
            raise invalid(f"Missing value for required parameter '{name}'.")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self._raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            raise invalid(f"Parameter '{name}' must be an integer, got '{value}'.")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid(f"Parameter '{name}' must be an integer, got '{value}'.") from None

    def number(self, name: str) -> float | None:
        """A float; MLflow sends NaN and ±Infinity as the strings "NaN", "Infinity"."""
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise invalid(f"Parameter '{name}' must be a number, not {value!r}.")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise invalid(f"Parameter '{name}' must be a number, not {value!r}.") from None

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(f"Parameter '{name}' must be true or false, not {value!r}.")

    def strings(self, name: str) -> list[str]:
        """A repeated field: the key repeated in a GET, a JSON list otherwise."""
        if self.method == "GET":
            return self.query.getlist(name)
        value = self.body.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"Parameter '{name}' must be a list of strings.")
        return value

    def objects(self, name: str) -> list[dict]:
        """A repeated message (tags, params, metrics …): a JSON list of objects."""
        value = self.body.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(f"Parameter '{name}' must be a list of objects.")
        return value

    def tags(self, name: str = "tags") -> dict[str, str]:
        """MLflow's repeated {key, value} messages as a dict; values become strings."""
        found: dict[str, str] = {}
        for item in self.objects(name):
            key = item.get("key")
            if not isinstance(key, str) or not key:
                raise invalid(f"Every entry of '{name}' needs a non-empty string 'key'.")
            value = item.get("value", "")
            found[key] = "" if value is None else str(value)
        return found

    def can_write(self) -> bool:
        return self.token.has_scope(TokenScope.WRITE)

    def require_write(self) -> None:
        if not self.can_write():
            raise MlflowError(
                PERMISSION_DENIED,
                "This token has only the read scope; writing through MLflow needs a Vetted token"
                " with the write scope (Settings → API tokens).",
            )

    def require_read(self) -> None:
        """As the REST API: a token without the read scope (a review-only one) reads nothing."""
        if not self.token.has_scope(TokenScope.READ):
            raise MlflowError(
                PERMISSION_DENIED,
                "This token has no read scope; MLflow's client needs a Vetted token with the read"
                " scope, and the write scope to log and register (Settings → API tokens).",
            )

    def team(self) -> Team:
        """The team a new model, experiment, run or logged model belongs to (see teams.py)."""
        from .teams import team_for_new_objects

        return team_for_new_objects(self.user)


@dataclass(frozen=True)
class Endpoint:
    handler: Callable[[Call], object]
    write: bool
    # The body is the handler's to read (an artifact's bytes), not a JSON object.
    raw_body: bool = False


# ("GET", "2.0/mlflow/registered-models/get") -> Endpoint
ENDPOINTS: dict[tuple[str, str], Endpoint] = {}
# Paths that go on past the endpoint's (".../artifacts/<path>"): the rest is `call.subpath`.
PREFIXES: list[str] = []


def endpoint(
    path: str, *methods: str, write: bool, raw_body: bool = False, prefix: bool = False
) -> Callable:
    """Register a handler for `path` under /mlflow/api/ (e.g. "2.0/mlflow/runs/get").

    A handler returns a dict (answered as JSON with 200) or, for downloads, an HttpResponse.
    """

    def register(handler):
        for method in methods:
            key = (method, path)
            if key in ENDPOINTS:
                raise RuntimeError(f"Two handlers for {method} {path}.")
            ENDPOINTS[key] = Endpoint(handler, write, raw_body)
        if prefix and path not in PREFIXES:
            PREFIXES.append(path)
        return handler

    return register


def ms(moment: datetime | None) -> int | None:
    """MLflow's timestamps: integer milliseconds since the epoch."""
    return None if moment is None else int(moment.timestamp() * 1000)


def float_value(value: float):
    """A metric value as MLflow's JSON carries it: NaN and ±inf as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def page_token(offset: int) -> str:
    """An opaque token for the next page; clients echo it and never read it."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        raise invalid(
            f"Invalid page token {token[:40]!r}: pass back the one a search gave."
        ) from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid(f"Invalid page token {token[:40]!r}: pass back the one a search gave.")
    return offset


# MLflow's limits on registry tags (mlflow/utils/validation.py).
TAG_KEY_PATTERN = re.compile(r"[/\w.\- :]+")
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 100_000


def check_tag(key: str, value: str) -> None:
    """A registry tag MLflow's own server would accept, or INVALID_PARAMETER_VALUE saying why."""
    if not TAG_KEY_PATTERN.fullmatch(key):
        raise invalid(
            f"Invalid value {key!r} for parameter 'key' supplied: names may only contain"
            " alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:)"
            " and slashes (/)."
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise invalid(f"Invalid value {key!r} for parameter 'key' supplied: not a unique path.")
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise invalid(f"Tag key exceeds the maximum length of {MAX_TAG_KEY_LENGTH} characters.")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise invalid(f"Tag value exceeds the maximum length of {MAX_TAG_VALUE_LENGTH} characters.")


def max_results(call: Call, default: int, limit: int) -> int:
    value = call.integer("max_results", default)
    assert value is not None
    if not 1 <= value <= limit:
        raise invalid(f"Invalid value for max_results: it must be between 1 and {limit}.")
    return value

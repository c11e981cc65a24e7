"""The one view behind /mlflow/: authenticate, find the endpoint, call it, answer MLflow's way.

Token authentication only (Bearer, or Basic with the token as the password), so no session
cookie and no CSRF: these routes are for MLflow's client, not the browser.
"""

import base64
import binascii
import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ValidationError as DrfValidationError

from accounts import throttle
from accounts.access import limit_to_token
from accounts.services import authenticate_token
from audit import context
from audit.models import Channel
from registry.stages import StageConflict
from vetted.api import json_input
from vetted.api.errors import Conflict, UploadTooLarge

from . import handlers  # noqa: F401 - registers every endpoint
from .wire import (
    ENDPOINT_NOT_FOUND,
    ENDPOINTS,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    PREFIXES,
    RESOURCE_CONFLICT,
    RESOURCE_DOES_NOT_EXIST,
    UNAUTHENTICATED,
    Call,
    MlflowError,
    invalid,
)

logger = logging.getLogger(__name__)

NO_TOKEN = (
    "Vetted needs an API token: set MLFLOW_TRACKING_TOKEN=vt_… (or MLFLOW_TRACKING_USERNAME and"
    " MLFLOW_TRACKING_PASSWORD=vt_…). Create one in Vetted under Settings → API tokens."
)


def error_response(error: MlflowError) -> JsonResponse:
    return JsonResponse(error.body(), status=error.status)


def not_found(request, path: str = "") -> JsonResponse:
    return error_response(
        MlflowError(
            ENDPOINT_NOT_FOUND,
            f"No MLflow endpoint {request.method} {request.path}: Vetted serves the model"
            " registry, the tracking calls that logging a model needs, and artifacts"
            " (docs/mlflow.md).",
        )
    )


def home(request) -> HttpResponseBase:
    """What a person finds at MLFLOW_TRACKING_URI: MLflow's client prints links to its UI
    (`…/mlflow/#/experiments/1/runs/…`), which Vetted does not serve: in its place, where
    MLflow's server has its UI, a page saying where to look instead."""
    if request.method != "GET":
        return not_found(request)
    return render(request, "mlflow_api/home.html")


@csrf_exempt
def dispatch(request, path: str) -> HttpResponseBase:
    try:
        found, subpath = _find(request.method, path)
        if found is None:
            return not_found(request)
        user, token = _authenticate(request)
        call = Call(
            method=request.method,
            user=user,
            token=token,
            query=request.GET,
            request=request,
            subpath=subpath,
        )
        if found.write:
            call.require_write()
        else:
            call.require_read()
        if not found.raw_body and request.method != "GET":
            call.body = _json_body(request)
        answer = found.handler(call)
    except Exception as exc:  # every failure answers in MLflow's shape
        return error_response(_as_mlflow_error(exc, request))
    if isinstance(answer, HttpResponseBase):
        return answer
    return JsonResponse(answer)


def _find(method: str, path: str):
    found = ENDPOINTS.get((method, path))
    if found is not None:
        return found, ""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            found = ENDPOINTS.get((method, prefix))
            if found is not None:
                return found, path[len(prefix) + 1 :]
    return None, ""


def _authenticate(request):
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    plain = ""
    if kind.lower() == "bearer":
        plain = value.strip()
    elif kind.lower() == "basic":
        try:
            username, _, plain = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise MlflowError(UNAUTHENTICATED, "The Basic credentials are not base64.") from None
    if not plain:
        raise MlflowError(UNAUTHENTICATED, NO_TOKEN)
    token = authenticate_token(plain)
    if token is None or (kind.lower() == "basic" and username and username != token.user.username):
        address = throttle.client_address(request)
        throttle.count_failure(throttle.TOKEN, address=address)
        if throttle.blocked(throttle.TOKEN, address=address):
            raise MlflowError("REQUEST_LIMIT_EXCEEDED", throttle.message(throttle.TOKEN))
        raise MlflowError(
            UNAUTHENTICATED,
            "The token is unknown, revoked or expired, or belongs to another user than"
            " MLFLOW_TRACKING_USERNAME. Create a new one in Vetted under Settings → API tokens.",
        )
    limit_to_token(token.user, token)
    context.set_origin(
        context.Origin(channel=Channel.MLFLOW, token_id=token.pk, token_name=token.name)
    )
    return token.user, token


def _json_body(request) -> dict:
    raw = request.body
    if not raw.strip():
        return {}
    try:
        # Vetted's JSON rules (no NUL, bounded depth, 64-bit integers); MLflow's client sends
        # NaN and Infinity as the strings "NaN" and "Infinity", which pass.
        body = json_input.parse(raw, field="request body")
    except UnicodeDecodeError as exc:
        raise invalid(f"The request body is not JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _as_mlflow_error(exc: Exception, request) -> MlflowError:
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return MlflowError(RESOURCE_DOES_NOT_EXIST, str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        return MlflowError(PERMISSION_DENIED, str(exc) or "Permission denied.")
    if isinstance(exc, StageConflict | Conflict):
        return MlflowError(RESOURCE_CONFLICT, str(exc))
    if isinstance(exc, UploadTooLarge | RequestDataTooBig):
        return MlflowError(INVALID_PARAMETER_VALUE, str(exc) or "The request is too large.", 413)
    if isinstance(exc, DjangoValidationError):
        return invalid(" ".join(exc.messages))
    if isinstance(exc, DrfValidationError):
        return invalid(_drf_message(exc.detail))
    logger.exception("MLflow %s %s failed", request.method, request.path)
    return MlflowError(
        INTERNAL_ERROR,
        f"The server failed on this request. It is logged as request {request.id}; give that id"
        " to whoever runs this Vetted.",
    )


def _drf_message(detail) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_drf_message(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_drf_message(item) for item in detail)
    return str(detail)

"""One JSON error shape for the whole API: {"error": {"status", "code", "message", "detail"}}."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class UploadTooLarge(Exception):
    """An upload past the size an app accepts; pages answer 413 with a form, the API with JSON.
    Raised by upload handlers, which run before any view, and by unpacking an archive."""


class Conflict(Exception):
    """What the caller acted on changed meanwhile (a concurrent writer won): 409, try again."""


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def _message(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_message(d) for d in detail)
    if isinstance(detail, dict):
        parts = []
        for key, value in detail.items():
            text = _message(value)
            parts.append(text if key in ("non_field_errors", "detail") else f"{key}: {text}")
        return " ".join(parts)
    return str(detail)


def json_exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, UploadTooLarge):
        exc = PayloadTooLarge(str(exc))
    elif isinstance(exc, Conflict):
        exc = ConflictError(str(exc))
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        exc = _unsupported_media_type(exc, context)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else code
    body = {
        "error": {
            "status": response.status_code,
            "code": code,
            "message": _message(detail),
            "detail": detail,
        }
    }
    return Response(body, status=response.status_code, headers=_keep_headers(response))


def _unsupported_media_type(exc, context) -> exceptions.UnsupportedMediaType:
    """Name what this address takes: most take JSON only, the version upload a form too."""
    view = context.get("view")
    accepted = [parser.media_type for parser in getattr(view, "parser_classes", [])]
    sent = context["request"].content_type.split(";")[0] or "no Content-Type"
    return exceptions.UnsupportedMediaType(
        sent, f"This address takes {' or '.join(accepted)}, not {sent}."
    )


def _keep_headers(response):
    return {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}

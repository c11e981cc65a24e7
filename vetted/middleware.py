"""Requests refused before any view sees them, the errors of /api/ kept in its shape, and the
project's own 404 page for pages in every mode."""

import logging
import uuid

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.defaults import page_not_found

NUL_MESSAGE = "The address contains a NUL byte (%00), which no name or filter in Vetted can hold."


def refuse_nul_bytes(get_response):
    """A NUL byte in the path or query string is a 400 here.

    PostgreSQL cannot store or compare text holding one, so otherwise it would fail as a 500
    in whichever lookup the value reached first (model, alias, search …). Request bodies are
    already checked by the form and serializer fields.
    """

    def middleware(request):
        query = request.GET
        if "\x00" in request.path or any("\x00" in k + v for k, v in query.items()):
            if request.path.startswith("/mlflow/"):
                return _mlflow_error(400, "INVALID_PARAMETER_VALUE", NUL_MESSAGE)
            if request.path.startswith("/api/"):
                error = {"status": 400, "code": "invalid", "message": NUL_MESSAGE, "detail": {}}
                return JsonResponse({"error": error}, status=400)
            return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain")
        return get_response(request)

    return middleware


LENGTH_REQUIRED_MESSAGE = (
    "Send the body with a Content-Length header: a body sent with Transfer-Encoding: chunked is"
    " not read here. HTTP clients send the length when the body is a file or bytes, not a stream."
)


def refuse_chunked_bodies(get_response):
    """A body without a Content-Length (`Transfer-Encoding: chunked`) is a 411 here.

    Django reads a request's body up to its Content-Length, so such a body would be read as
    empty: an upload would arrive with no files. gunicorn passes the header on (it refuses one
    that comes with a Content-Length), and so do Django's own server and test client.

    One exception: MLflow's client sends an empty artifact file chunked, and its artifact PUT
    reads the server's own stream, which a server that de-chunks (gunicorn says so with
    `wsgi.input_terminated`) ends where the body ends.
    """

    def middleware(request):
        if "HTTP_TRANSFER_ENCODING" not in request.META or _streams_mlflow_artifact(request):
            return get_response(request)
        if request.path.startswith("/mlflow/"):
            return _mlflow_error(411, "INVALID_PARAMETER_VALUE", LENGTH_REQUIRED_MESSAGE)
        if request.path.startswith("/api/"):
            error = {
                "status": 411,
                "code": "length_required",
                "message": LENGTH_REQUIRED_MESSAGE,
                "detail": {},
            }
            return JsonResponse({"error": error}, status=411)
        return HttpResponse(LENGTH_REQUIRED_MESSAGE, status=411, content_type="text/plain")

    return middleware


MLFLOW_ARTIFACT_PUT = "/mlflow/api/2.0/mlflow-artifacts/artifacts/"


def _streams_mlflow_artifact(request) -> bool:
    return (
        request.method == "PUT"
        and request.path.startswith(MLFLOW_ARTIFACT_PUT)
        and request.META.get("wsgi.input_terminated") is True
    )


logger = logging.getLogger("vetted.requests")

API_MESSAGES = {
    400: "The request could not be read: it is malformed or too large to hold in memory.",
    404: "There is no API endpoint at this address; see /api/v1/docs/ for those there are.",
    405: "This endpoint does not take that method; see /api/v1/docs/.",
    413: "The request is larger than the server accepts.",
}


def request_id_and_api_errors(get_response):
    """Every request gets an id (the `X-Request-ID` header, and the log's `[id]`), and under
    /api/ every error is the JSON error shape, whatever produced it: an unknown address, a body
    Django refused, a crash. A 500 says only its request id; the traceback is in the log."""

    def middleware(request):
        request.id = uuid.uuid4().hex[:12]
        response = get_response(request)
        response["X-Request-ID"] = request.id
        if response.status_code >= 500:
            logger.error(
                "%s %s answered %s",
                request.method,
                request.path,
                response.status_code,
                extra={"request": request},
            )
        is_json = response.get("Content-Type", "").startswith("application/json")
        if response.status_code >= 400 and not is_json:
            if request.path.startswith("/api/"):
                return _api_error(request, response.status_code)
            if request.path.startswith("/mlflow/"):
                return _mlflow_answer_to(request, response.status_code)
        return response

    return middleware


def _api_error(request, status: int) -> JsonResponse:
    message = API_MESSAGES.get(status, "The request failed.")
    if status >= 500:
        message = (
            f"The server failed on this request. It is logged as request {request.id}; "
            "give that id to whoever runs this Vetted."
        )
    code = {400: "parse_error", 404: "not_found", 405: "method_not_allowed"}.get(status, "error")
    body = {"status": status, "code": code, "message": message, "detail": {}}
    if status >= 500:
        body["request_id"] = request.id
    response = JsonResponse({"error": body}, status=status)
    response["X-Request-ID"] = request.id
    return response


def _mlflow_error(status: int, code: str, message: str) -> JsonResponse:
    """MLflow's error shape: its client reads `error_code`, and a body without one is an
    INTERNAL_ERROR to it whatever the status."""
    return JsonResponse({"error_code": code, "message": message}, status=status)


def _mlflow_answer_to(request, status: int) -> JsonResponse:
    if status >= 500:
        message = (
            f"The server failed on this request. It is logged as request {request.id}; "
            "give that id to whoever runs this Vetted."
        )
        response = _mlflow_error(status, "INTERNAL_ERROR", message)
    else:
        code = "ENDPOINT_NOT_FOUND" if status in (404, 405) else "INVALID_PARAMETER_VALUE"
        response = _mlflow_error(status, code, API_MESSAGES.get(status, "The request failed."))
    response["X-Request-ID"] = request.id
    return response


def own_404_page(get_response):
    """Under DEBUG, a page that is not found shows the project's 404 page, not Django's yellow
    debug page: `make run` runs with DEBUG, and what a person meets there is what they meet in
    production. Without DEBUG, Django renders the same template already; /api/ and /mlflow/
    answer JSON.

    Innermost in MIDDLEWARE, so the outer ones (security headers, request id) treat it as any
    answer.
    """

    def middleware(request):
        response = get_response(request)
        machine = request.path.startswith(("/api/", "/mlflow/"))
        if settings.DEBUG and response.status_code == 404 and not machine:
            return page_not_found(request, Http404())
        return response

    return middleware

"""The OpenAPI schema documents the errors each operation can answer, in the API's error shape.

One place decides them from what the operation is (its parameters, body, authentication, and
whether its view's writes can conflict), so no view lists its errors by hand.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import permissions, serializers

from vetted.serializers import TypedSerializer

ERROR_DESCRIPTIONS = {
    400: "The input was refused; `message` says why, `detail` which field.",
    401: "No credentials, or the API token is unknown, revoked or expired.",
    403: "The token's scope or your role does not allow this.",
    404: "No such object that you can see.",
    409: "What you acted on changed meanwhile: reload and try again.",
    413: "The request body is larger than the server accepts.",
    415: "The request body is in a media type this endpoint does not read.",
    429: "Too many failed attempts from this address: wait the time `Retry-After` gives.",
}


@extend_schema_field(
    {"oneOf": [{"type": "object", "additionalProperties": {}}, {"type": "array", "items": {}}]}
)
class ErrorDetailField(serializers.JSONField):
    """Field errors by name (an object), or a list of messages."""


class ErrorBodySerializer(TypedSerializer):
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Machine-readable, e.g. not_found, invalid, conflict.")
    message = serializers.CharField(help_text="For people: what went wrong and what to do.")
    detail = ErrorDetailField()
    request_id = serializers.CharField(
        required=False, help_text="Only on a 5xx: the id the server's log knows the request by."
    )


class ErrorEnvelopeSerializer(TypedSerializer):
    """Every error of the API: {"error": {"status", "code", "message", "detail"}}."""

    error = ErrorBodySerializer()

    class Meta:
        ref_name = "Error"


class ErrorDocumentingSchema(AutoSchema):
    """drf-spectacular's schema, plus the error answers each operation can give.

    A view whose writes can lose a race with another writer sets `writes_can_conflict = True`.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status in sorted(self._error_statuses()):
            documented = OpenApiResponse(ErrorEnvelopeSerializer, ERROR_DESCRIPTIONS[status])
            responses.setdefault(str(status), self._get_response_for_code(documented, str(status)))
        return responses

    def _error_statuses(self) -> set[int]:
        method = self.method.lower()
        has_body = method in ("post", "put", "patch") and self.get_request_serializer() is not None
        has_path_parameters = "{" in self.path
        # Any parameter can carry a value the server refuses (a NUL byte, a bad number).
        statuses = {400} if has_body or has_path_parameters or self._get_parameters() else set()
        if has_body:
            statuses |= {413, 415}
        # What a path, a body (a team's slug, a version's number) or a page number names may not
        # exist, or not for you.
        if has_path_parameters or has_body or self._is_list_view() and self._get_paginator():
            statuses.add(404)
        if not any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            statuses |= {401, 403, 429}
        if getattr(self.view, "writes_can_conflict", False) and method not in ("get", "head"):
            statuses.add(409)
        return statuses

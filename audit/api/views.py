from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from .. import selectors
from .export import CSVRenderer, csv_lines
from .serializers import AuditEventSerializer

FORMATS = ("json", "csv")


@extend_schema(
    summary="The audit log: every state change you may see, newest first",
    description=(
        "You see every event of the teams you belong to, and your own events that belong to no"
        " team (your personal tokens and settings); a token limited to one team sees that team's"
        " events only. `format=csv` answers every matching event as a CSV file, unpaginated."
    ),
    parameters=[
        OpenApiParameter("model", str, description="Registered model name"),
        OpenApiParameter("team", str, description="Team slug"),
        OpenApiParameter("actor", str, description="User name"),
        OpenApiParameter("verb", str, description="e.g. stage.moved, version.registered"),
        OpenApiParameter("object", str, description="The object's name, e.g. `iris v3`"),
        OpenApiParameter(
            "since", str, description="A date (from its start) or an ISO 8601 time, inclusive"
        ),
        OpenApiParameter(
            "until", str, description="A date (through its end) or an ISO 8601 time, exclusive"
        ),
        OpenApiParameter(
            "format",
            str,
            enum=FORMATS,
            description="`json` (pages of 50, the default) or `csv` (every event, as a download)",
        ),
    ],
    responses={
        (200, "application/json"): AuditEventSerializer,
        (200, "text/csv"): OpenApiTypes.STR,
    },
)
class AuditEventList(generics.ListAPIView):
    """Read-only: the log cannot be written, changed or deleted through the API."""

    serializer_class = AuditEventSerializer
    filter_backends: list = []
    renderer_classes = [JSONRenderer, CSVRenderer]

    def get_queryset(self):
        filters = selectors.EventFilters.from_query(self.request.query_params)
        return selectors.events_for(self.request.user, filters)

    def list(self, request, *args, **kwargs):
        if not isinstance(request.accepted_renderer, CSVRenderer):
            return super().list(request, *args, **kwargs)
        response = StreamingHttpResponse(
            csv_lines(self.get_queryset(), request.accepted_renderer),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"vetted-audit-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def perform_content_negotiation(self, request, force=False):
        # DRF answers an unknown format with a bare 404 (and takes an empty one for JSON, which
        # the schema's enum does not allow); say what there is instead.
        if not force and request.query_params.get("format", "json") not in FORMATS:
            raise ValidationError({"format": ["Ask for json (the default) or csv."]})
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc):
        # An error is JSON, a refused CSV export's too: the CSV renderer writes rows, not errors.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

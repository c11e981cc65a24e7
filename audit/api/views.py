from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from .. import selectors
from .serializers import AuditEventSerializer


@extend_schema(
    summary="The audit log: every state change you may see, newest first",
    parameters=[
        OpenApiParameter("model", str, description="Registered model name"),
        OpenApiParameter("team", str, description="Team slug"),
        OpenApiParameter("actor", str, description="User name"),
        OpenApiParameter("verb", str, description="e.g. stage.moved, version.registered"),
        OpenApiParameter("since", str, description="ISO 8601 time, inclusive"),
        OpenApiParameter("until", str, description="ISO 8601 time, exclusive"),
    ],
)
class AuditEventList(generics.ListAPIView):
    """Read-only: the log cannot be written, changed or deleted through the API."""

    serializer_class = AuditEventSerializer
    filter_backends: list = []

    def get_queryset(self):
        q = self.request.query_params
        return selectors.events_for(
            self.request.user,
            **{
                name: q.get(name, "")
                for name in ("model", "team", "actor", "verb", "since", "until")
            },
        )

"""The API of alerts: `/api/v1/alerts/` (of the models the caller sees), acknowledge and mute."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from vetted.serializers import TypedSerializer

from .. import alerts
from ..models import Alert, Level

STATES = ["open", "resolved", ""]


class AlertSerializer(TypedSerializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.IntegerField()
    monitor = serializers.CharField()
    rule = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)
    message = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    run = serializers.IntegerField(allow_null=True)
    opened_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    muted_until = serializers.DateTimeField(allow_null=True)


class MuteSerializer(TypedSerializer):
    minutes = serializers.IntegerField(min_value=0, max_value=alerts.MAX_MUTE_MINUTES)


def alert_data(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "model": alert.monitor.model.name,
        "version": alert.version.number,
        "monitor": alert.monitor.name,
        "rule": alert.rule_key,
        "level": alert.level,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "run": alert.run_id,
        "opened_at": alert.opened_at,
        "last_seen_at": alert.last_seen_at,
        "resolved_at": alert.resolved_at,
        "acknowledged_by": alert.acknowledged_by.username if alert.acknowledged_by else None,
        "acknowledged_at": alert.acknowledged_at,
        "muted_until": alert.muted_until,
    }


class AlertList(generics.ListAPIView):
    serializer_class = AlertSerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("model", str, description="Only this model's alerts"),
            OpenApiParameter("state", str, enum=STATES, description="Default open; empty: any"),
        ],
        summary="Alerts of the models you can see, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        state = self.request.query_params.get("state", "open")
        if state not in STATES:
            raise ValidationError({"state": ["Use open or resolved (empty: any)."]})
        return alerts.alerts_for(
            self.request.user, model=self.request.query_params.get("model", ""), state=state
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset()) or []
        return self.get_paginated_response(
            AlertSerializer([alert_data(a) for a in page], many=True).data
        )


def _alert_for(user, pk: int) -> Alert:
    found = alerts.alerts_for(user, state="").filter(pk=pk).first()
    if found is None:
        raise Http404(f"No alert {pk}.")
    return found


class AlertAcknowledge(APIView):
    @extend_schema(request=None, responses=AlertSerializer, summary="Say someone is on it")
    def post(self, request, pk):
        alert = alerts.acknowledge(actor=request.user, alert=_alert_for(request.user, pk))
        return Response(AlertSerializer(alert_data(alert)).data)


class AlertMute(APIView):
    @extend_schema(
        request=MuteSerializer,
        responses=AlertSerializer,
        summary="Silence an alert's notifications for some minutes (0 ends the mute)",
    )
    def post(self, request, pk):
        data = MuteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = alerts.mute(
            actor=request.user,
            alert=_alert_for(request.user, pk),
            minutes=data.validated_data["minutes"],
        )
        return Response(AlertSerializer(alert_data(alert)).data)

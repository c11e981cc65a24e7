"""The API of monitors: `/api/v1/models/{name}/monitors/` and each monitor, and "run now".

Reading is for the model's team; writing for its owners and DevOps (monitoring.access), with a
token carrying the write scope. Rules live in monitoring.monitors.
"""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.access import get_model_for
from vetted.serializers import TypedSerializer

from .. import monitors
from ..models import EvaluationKind, Interval, Monitor


class RuleSerializer(TypedSerializer):
    metric = serializers.CharField(max_length=100)
    op = serializers.ChoiceField(choices=[">=", ">", "<=", "<"])
    warning = serializers.FloatField(allow_null=True, required=False, default=None)
    critical = serializers.FloatField(allow_null=True, required=False, default=None)


class MonitorInputSerializer(TypedSerializer):
    name = serializers.CharField(max_length=100)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=EvaluationKind.choices), min_length=1
    )
    stages = serializers.ListField(
        child=serializers.ChoiceField(choices=monitors.STAGES), min_length=1
    )
    window_days = serializers.IntegerField(min_value=1, max_value=monitors.MAX_WINDOW_DAYS)
    interval = serializers.ChoiceField(choices=Interval.choices)
    rules = RuleSerializer(many=True)
    enabled = serializers.BooleanField(required=False, default=True)


class MonitorSerializer(TypedSerializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    name = serializers.CharField()
    kinds = serializers.ListField(child=serializers.CharField())
    stages = serializers.ListField(child=serializers.CharField())
    window_days = serializers.IntegerField()
    interval = serializers.ChoiceField(choices=Interval.choices)
    rules = RuleSerializer(many=True)
    enabled = serializers.BooleanField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()


class RunNowSerializer(TypedSerializer):
    runs = serializers.ListField(child=serializers.IntegerField())


def monitor_data(monitor: Monitor) -> dict:
    return {
        "id": monitor.pk,
        "model": monitor.model.name,
        "name": monitor.name,
        "kinds": monitor.kinds,
        "stages": monitor.stages,
        "window_days": monitor.window_days,
        "interval": monitor.interval,
        "rules": monitor.rules,
        "enabled": monitor.enabled,
        "last_run_at": monitor.last_run_at,
        "url": reverse("monitoring:monitor_edit", args=[monitor.model.name, monitor.pk]),
    }


def _monitor_for(user, name: str, pk: int) -> Monitor:
    model = get_model_for(user, name)
    try:
        monitor = Monitor.objects.get(model=model, pk=pk)
    except Monitor.DoesNotExist:
        raise Http404(f"Model {name!r} has no monitor {pk}.") from None
    monitor.model = model  # with the caller's role: the access check needs no query
    return monitor


class ModelMonitors(APIView):
    @extend_schema(responses=MonitorSerializer(many=True), summary="The model's monitors")
    def get(self, request, name):
        model = get_model_for(request.user, name)
        found = list(monitors.monitors_of(model))
        for monitor in found:
            monitor.model = model
        return Response(MonitorSerializer([monitor_data(m) for m in found], many=True).data)

    @extend_schema(
        request=MonitorInputSerializer,
        responses={201: MonitorSerializer},
        summary="Make a monitor and its schedule (team owners and DevOps)",
    )
    def post(self, request, name):
        model = get_model_for(request.user, name)
        data = MonitorInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        made = monitors.create_monitor(actor=request.user, model=model, **data.validated_data)
        return Response(MonitorSerializer(monitor_data(made)).data, status=status.HTTP_201_CREATED)


class ModelMonitor(APIView):
    @extend_schema(responses=MonitorSerializer, summary="One monitor")
    def get(self, request, name, pk):
        return Response(MonitorSerializer(monitor_data(_monitor_for(request.user, name, pk))).data)

    @extend_schema(
        request=MonitorInputSerializer(partial=True),
        responses=MonitorSerializer,
        summary="Change a monitor; its schedule follows",
    )
    def patch(self, request, name, pk):
        monitor = _monitor_for(request.user, name, pk)
        data = MonitorInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        monitors.update_monitor(actor=request.user, monitor=monitor, **data.validated_data)
        return Response(MonitorSerializer(monitor_data(monitor)).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a monitor and its alerts")
    def delete(self, request, name, pk):
        monitor = _monitor_for(request.user, name, pk)
        monitors.delete_monitor(actor=request.user, monitor=monitor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelMonitorRun(APIView):
    @extend_schema(
        request=None,
        responses={202: RunNowSerializer},
        summary="Run the monitor's evaluations now; answers the runs' ids",
    )
    def post(self, request, name, pk):
        monitor = _monitor_for(request.user, name, pk)
        runs = monitors.run_now(actor=request.user, monitor=monitor)
        return Response(
            RunNowSerializer({"runs": [run.pk for run in runs]}).data,
            status=status.HTTP_202_ACCEPTED,
        )

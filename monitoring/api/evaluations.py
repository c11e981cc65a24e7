"""Evaluations over the API: ask for one, list a model's, read one with its metrics."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.access import get_model_for
from registry.models import ModelVersion
from vetted.api.json_input import MAX_INTEGER
from vetted.serializers import TypedSerializer

from .. import services
from ..access import can_run_evaluation
from ..models import Dataset, EvaluationKind, EvaluationRun, RunStatus, Trigger


class EvaluationRequestSerializer(TypedSerializer):
    version = serializers.IntegerField(min_value=1, help_text="The version's number")
    kind = serializers.ChoiceField(choices=EvaluationKind.choices)
    dataset = serializers.IntegerField(min_value=1, help_text="The dataset judged")
    reference = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="Drift only: the dataset compared with; the model's latest reference if absent",
    )


class EvaluationSerializer(TypedSerializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="version.model.name")
    version = serializers.IntegerField(source="version.number")
    kind = serializers.ChoiceField(choices=EvaluationKind.choices)
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    status = serializers.ChoiceField(choices=RunStatus.choices)
    progress = serializers.FloatField(help_text="0 to 1")
    progress_note = serializers.CharField()
    dataset = serializers.IntegerField(source="dataset_id")
    reference = serializers.IntegerField(source="reference_id", allow_null=True)
    window = serializers.SerializerMethodField()
    baseline = serializers.IntegerField(
        source="baseline_id",
        allow_null=True,
        help_text="On upload: the production version's run on the same data",
    )
    monitor = serializers.IntegerField(source="monitor_id", allow_null=True)
    options = serializers.JSONField(help_text="The thresholds and methods it ran with")
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    error = serializers.CharField()
    metrics = serializers.JSONField(
        help_text="Once done: the kind's results and a flat `summary` of its numbers"
    )
    url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()

    def get_window(self, obj) -> list[int]:
        return [d.pk for d in obj.window.all()]

    def get_url(self, obj) -> str:
        """The run's page"""
        return f"/evaluations/{obj.pk}/"

    def get_api_url(self, obj) -> str:
        return reverse("monitoring-api:evaluation", args=[obj.pk])


def runs():
    return EvaluationRun.objects.select_related("version__model").prefetch_related("window")


def _dataset_of(model, dataset_id: int, field: str) -> Dataset:
    """A dataset of this model; another model's (or one that does not exist) is a 400."""
    dataset = Dataset.objects.filter(pk=dataset_id, model=model).first()
    if dataset is None:
        raise ValidationError({field: [f"Model {model.name!r} has no dataset {dataset_id}."]})
    return dataset


@extend_schema(
    parameters=[
        OpenApiParameter("version", int, description="Only this version's runs"),
        OpenApiParameter("kind", str, enum=EvaluationKind.values),
        OpenApiParameter("status", str, enum=RunStatus.values),
    ]
)
class ModelEvaluations(generics.ListAPIView):
    """A model's evaluation runs, newest first."""

    serializer_class = EvaluationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no model name
            return EvaluationRun.objects.none()
        model = get_model_for(self.request.user, self.kwargs["name"])
        found = runs().filter(version__model=model)
        params = self.request.query_params
        if "version" in params:
            number = params["version"]
            if not (number.isascii() and number.isdigit() and int(number) <= MAX_INTEGER):
                raise ValidationError({"version": ["A version is a whole number."]})
            found = found.filter(version__number=int(number))
        for name, choices in (("kind", EvaluationKind.values), ("status", RunStatus.values)):
            if name in params:
                if params[name] not in choices:
                    raise ValidationError({name: [f"One of: {', '.join(choices)}."]})
                found = found.filter(**{name: params[name]})
        return found

    @extend_schema(
        request=EvaluationRequestSerializer,
        responses={201: EvaluationSerializer, 200: EvaluationSerializer},
        summary="Evaluate a version on a dataset (200: the same evaluation is already live)",
    )
    def post(self, request, name):
        model = get_model_for(request.user, name)
        if not can_run_evaluation(request.user, model):
            raise PermissionDenied(f"Your role in team {model.team.name} does not allow this.")
        body = EvaluationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        version = ModelVersion.objects.filter(model=model, number=data["version"]).first()
        if version is None:
            raise Http404(f"Model {name!r} has no version {data['version']}.")
        version.model = model
        run, created = services.request_evaluation(
            actor=request.user,
            version=version,
            kind=data["kind"],
            dataset=_dataset_of(model, data["dataset"], "dataset"),
            reference=(
                _dataset_of(model, data["reference"], "reference")
                if data["reference"] is not None
                else None
            ),
        )
        return Response(
            EvaluationSerializer(runs().get(pk=run.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class EvaluationDetail(APIView):
    @extend_schema(
        responses=EvaluationSerializer,
        summary="An evaluation run: status, progress, timings, error and metrics",
    )
    def get(self, request, pk):
        if pk > MAX_INTEGER:  # no row has such an id, and PostgreSQL cannot compare it
            raise Http404(f"No evaluation {pk}.")
        run = runs().for_user(request.user).filter(pk=pk).first()
        if run is None:
            raise Http404(f"No evaluation {pk}.")
        return Response(EvaluationSerializer(run).data)

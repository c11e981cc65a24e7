"""Datasets over the API: upload (multipart), list a model's, read one."""

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.access import get_model_for
from vetted.api.parsers import StrictJSONParser
from vetted.serializers import TypedModelSerializer, TypedSerializer

from ..access import can_upload_data
from ..datasets import DatasetUploadHandler, store_dataset
from ..models import Dataset, DatasetKind


class DatasetSerializer(TypedModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    rows = serializers.IntegerField(source="row_count", read_only=True)
    # A field named `label` shadows Field.label for mypy; DRF's metaclass takes it off the class.
    label = serializers.CharField(source="label_column", read_only=True)  # type: ignore[assignment]
    prediction = serializers.CharField(source="prediction_column", read_only=True)
    score = serializers.CharField(source="score_column", read_only=True)
    protected = serializers.ListField(
        source="protected_columns", child=serializers.CharField(), read_only=True
    )
    checked_against_version = serializers.IntegerField(
        source="checked_against.number", default=None, allow_null=True, read_only=True
    )
    created_by = serializers.CharField(
        source="created_by.username", default=None, allow_null=True, read_only=True
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "model",
            "kind",
            "name",
            "rows",
            "size",
            "sha256",
            "schema",
            "missing",
            "feature_columns",
            "label",
            "prediction",
            "score",
            "protected",
            "observed_at",
            "checked_against_version",
            "created_by",
            "created_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        url = reverse("monitoring-api:dataset", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class DatasetUploadSerializer(TypedSerializer):
    file = serializers.FileField(help_text="CSV (with a header row) or Parquet.")
    kind = serializers.ChoiceField(choices=DatasetKind.choices)
    at = serializers.DateTimeField(
        required=False, help_text="When the data was seen (a batch's time); default now."
    )
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, default="", max_length=255
    )
    prediction = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    score = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=255,
        help_text="The predicted probability of the positive class (for ROC AUC and log loss).",
    )
    protected = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Protected attribute columns, comma-separated: sex,age_band",
    )


def _datasets_of(model):
    return Dataset.objects.filter(model=model).select_related(
        "model", "checked_against", "created_by"
    )


@extend_schema(
    parameters=[
        OpenApiParameter("kind", str, enum=["", *DatasetKind.values], description="Empty: any")
    ]
)
class DatasetList(generics.ListAPIView):
    serializer_class = DatasetSerializer
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: stream the file to disk and stop past the limit.
        request.upload_handlers = [DatasetUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no model name
            return Dataset.objects.none()
        model = get_model_for(self.request.user, self.kwargs["name"])
        datasets = _datasets_of(model)
        kind = self.request.query_params.get("kind", "")
        if kind and kind not in DatasetKind.values:
            raise serializers.ValidationError(
                {"kind": [f"Unknown kind {kind!r}: use reference, evaluation or batch."]}
            )
        return datasets.filter(kind=kind) if kind else datasets

    @extend_schema(
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={201: DatasetSerializer},
        summary="Upload a dataset (CSV or Parquet) checked against the model's signature",
    )
    def post(self, request, name):
        model = get_model_for(request.user, name)
        if not can_upload_data(request.user, model):  # refused before the file is read
            raise PermissionDenied("Your role in this team does not allow uploading data.")
        data = DatasetUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        dataset = store_dataset(
            actor=request.user,
            model=model,
            file=fields["file"],
            filename=fields["file"].name,
            kind=fields["kind"],
            observed_at=fields.get("at"),
            label=fields["label"],
            prediction=fields["prediction"],
            score=fields["score"],
            protected=fields["protected"].split(","),
        )
        dataset = _datasets_of(model).get(pk=dataset.pk)
        body = DatasetSerializer(dataset, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class DatasetDetail(APIView):
    @extend_schema(responses=DatasetSerializer)
    def get(self, request, dataset_id):
        dataset = (
            Dataset.objects.for_user(request.user)
            .select_related("model", "checked_against", "created_by")
            .filter(pk=dataset_id)
            .first()
        )
        if dataset is None:
            raise NotFound(f"No dataset {dataset_id}.")
        return Response(DatasetSerializer(dataset, context={"request": request}).data)

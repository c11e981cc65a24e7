"""API representations. Thin: validation of business rules lives in registry.services."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vetted.api import json_input
from vetted.serializers import TypedModelSerializer, TypedSerializer

from ..models import RegisteredModel, Stage, TaskType


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


class ModelSerializer(TypedModelSerializer):
    team: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    tags = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    aliases = serializers.SerializerMethodField()
    latest_version = serializers.IntegerField(source="latest_version_number", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", default=None, allow_null=True, read_only=True
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "team",
            "task_type",
            "description",
            "tags",
            "latest_version",
            "stages",
            "aliases",
            "created_by",
            "created_at",
            "updated_at",
            "url",
        ]

    def get_tags(self, obj) -> list[str]:
        return [t.name for t in obj.tags.all()]

    def get_stages(self, obj) -> dict[str, int]:
        """{"staging": 4, "production": 3}: from the prefetched `staged_versions`."""
        return {v.stage: v.number for v in getattr(obj, "staged_versions", [])}

    def get_aliases(self, obj) -> dict[str, int]:
        return {a.name: a.version.number for a in obj.aliases.all()}

    def get_url(self, obj) -> str:
        return _absolute(self.context.get("request"), reverse("api:model", args=[obj.name]))


class ModelCreateSerializer(TypedSerializer):
    name = serializers.CharField(max_length=100)
    team = serializers.CharField(max_length=100, help_text="The team's slug.")
    task_type = serializers.ChoiceField(choices=TaskType.choices, default=TaskType.OTHER)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list
    )


class ModelUpdateSerializer(TypedSerializer):
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)


class ArtifactSerializer(TypedSerializer):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, obj) -> str:
        version = obj.version
        url = reverse("api:artifact", args=[version.model.name, version.number, obj.path])
        return _absolute(self.context.get("request"), url)


# Declared field by field, not introspected from the model: the API answers every push with it,
# and a ModelSerializer would rebuild its fields from the model each time.
def archived_alias_warnings(version) -> list[str]:
    if version.stage != Stage.ARCHIVED:
        return []
    return [
        f"@{alias.name} points at version {version.number}, which is archived: apps that resolve"
        f" @{alias.name} get a version no longer in staging or production."
        for alias in version.aliases.all()
    ]


class LoadCheckSerializer(TypedSerializer):
    """One attempt at loading the version; a version shows its latest as `load_check`."""

    status = serializers.CharField()
    attempt = serializers.IntegerField()
    reason = serializers.CharField(
        help_text="Why this attempt was made after an earlier one, e.g. the earlier one was lost"
        " when its worker stopped answering; empty for the first."
    )
    seconds = serializers.FloatField(source="load_seconds", allow_null=True)
    prediction_shape = serializers.JSONField(allow_null=True)
    error = serializers.CharField()
    isolation = serializers.CharField()
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    checked_at = serializers.DateTimeField(source="finished_at", allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)


class VersionSerializer(TypedSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="number")
    uuid = serializers.UUIDField(read_only=True)
    stage = serializers.ChoiceField(choices=Stage.choices)
    aliases = serializers.SerializerMethodField()
    description = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    token = serializers.CharField(
        source="created_with_token.name",
        default=None,
        allow_null=True,
        help_text="The name of the API token that pushed it (null: pushed from a page).",
    )
    created_at = serializers.DateTimeField(read_only=True)
    lineage = serializers.SerializerMethodField()
    params = serializers.JSONField()
    metrics = serializers.JSONField()
    requirements = serializers.JSONField()
    flavors = serializers.JSONField()
    signature = serializers.JSONField(allow_null=True)
    mlflow_version = serializers.CharField(max_length=50)
    load_check = LoadCheckSerializer(source="latest_load_check", allow_null=True)
    warnings = serializers.SerializerMethodField()
    artifacts = ArtifactSerializer(many=True)
    url = serializers.SerializerMethodField()

    def get_aliases(self, obj) -> list[str]:
        return [a.name for a in obj.aliases.all()]

    def get_warnings(self, obj) -> list[str]:
        """What a caller should know before running this version (empty: nothing)."""
        return archived_alias_warnings(obj)

    def get_lineage(self, obj) -> dict[str, str]:
        return {
            "git_repo": obj.git_repo,
            "git_commit": obj.git_commit,
            "git_branch": obj.git_branch,
            "ci_run_url": obj.ci_run_url,
            "training_data_uri": obj.training_data_uri,
            "training_data_sha256": obj.training_data_sha256,
        }

    def get_url(self, obj) -> str:
        url = reverse("api:version", args=[obj.model.name, obj.number])
        return _absolute(self.context.get("request"), url)


class JSONValueField(serializers.Field):
    """Takes a JSON value, or (from multipart forms) a string holding one."""

    def __init__(self, expect: type, **kwargs):
        self.expect = expect
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            if isinstance(data, str):
                data = json_input.parse(data)
            else:
                json_input.check(data)
        except DjangoValidationError as invalid:
            raise serializers.ValidationError(invalid.messages) from None
        if not isinstance(data, self.expect):
            kind = "object" if self.expect is dict else "list"
            raise serializers.ValidationError(f"Must be a JSON {kind}.")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(JSONValueField):
    def __init__(self, **kwargs):
        super().__init__(dict, **kwargs)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class JSONListField(JSONValueField):
    def __init__(self, **kwargs):
        super().__init__(list, **kwargs)


class VersionUploadSerializer(TypedSerializer):
    description = serializers.CharField(required=False, allow_blank=True, default="")
    git_repo = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    git_commit = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    git_branch = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    ci_run_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)
    training_data_uri = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000
    )
    training_data_sha256 = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64
    )
    params = JSONObjectField(required=False, default=dict)
    metrics = JSONObjectField(required=False, default=dict)
    requirements = JSONListField(required=False, default=None)
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    paths = serializers.ListField(
        child=serializers.CharField(max_length=400),
        required=False,
        default=list,
        help_text="Relative paths for `files`, in the same order (default: each file's name).",
    )
    archive = serializers.FileField(
        required=False, help_text="A .tar.gz, .tgz, .tar or .zip of an MLflow model folder."
    )
    team = serializers.CharField(
        required=False, help_text="Team slug: creates the model on its first push."
    )
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False)

    def validate(self, attrs):
        if attrs["paths"] and len(attrs["paths"]) != len(attrs["files"]):
            raise serializers.ValidationError("Send one path for each file, or none.")
        return attrs


class StageSerializer(TypedSerializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class AliasSerializer(TypedSerializer):
    version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")

"""API representations of the inbox, the preferences and watching."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vetted.serializers import TypedModelSerializer, TypedSerializer

from ..models import Event, Notification


class NotificationSerializer(TypedModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    actor = serializers.CharField(
        source="actor.username", default=None, allow_null=True, read_only=True
    )
    url = serializers.SerializerMethodField(help_text="The place it happened, in the browser.")
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "event",
            "title",
            "body",
            "model",
            "actor",
            "url",
            "created_at",
            "read_at",
            "unread",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(obj.url) if request is not None else obj.url

    def get_unread(self, obj) -> bool:
        return obj.read_at is None


class MarkReadSerializer(TypedSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        min_length=1,
        max_length=500,
        help_text="Your notifications to mark read; any other id is a 404 and marks nothing.",
    )
    all = serializers.BooleanField(required=False, help_text="true: mark all of yours read.")

    def validate(self, attrs):
        if bool(attrs.get("ids")) == bool(attrs.get("all")):
            raise serializers.ValidationError('Send either "ids": [...] or "all": true.')
        return attrs


class MarkedSerializer(TypedSerializer):
    marked = serializers.IntegerField(help_text="How many were unread before.")
    unread = serializers.IntegerField(help_text="How many are still unread.")


class PreferenceSerializer(TypedSerializer):
    event = serializers.ChoiceField(choices=Event.choices)
    description = serializers.CharField()
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class PreferencesSerializer(TypedSerializer):
    preferences = PreferenceSerializer(many=True)


class PreferenceChangeSerializer(TypedSerializer):
    event = serializers.ChoiceField(choices=Event.choices)
    in_app = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)


class PreferencesChangeSerializer(TypedSerializer):
    """The events to change; events not named keep their channels."""

    preferences = PreferenceChangeSerializer(many=True)

    def validate_preferences(self, items):
        events = [item["event"] for item in items]
        if len(events) != len(set(events)):
            raise serializers.ValidationError("Name each event at most once.")
        return items


class WatchSerializer(TypedSerializer):
    model = serializers.CharField()
    watching = serializers.BooleanField()
    watchers = serializers.IntegerField(help_text="How many people watch the model.")

from rest_framework import serializers

from vetted.serializers import TypedModelSerializer

from ..models import AuditEvent


class AuditEventSerializer(TypedModelSerializer):
    actor = serializers.CharField(source="actor_name")
    token = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()
    team = serializers.CharField(source="team_slug")
    model = serializers.CharField(source="model_name")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "token", "channel", "verb", "object", "team", "model"]
        fields += ["reason", "before", "after"]

    def get_token(self, event) -> dict | None:
        if event.token_id is None:
            return None
        return {"id": event.token_id, "name": event.token_name}

    def get_object(self, event) -> dict:
        return {"type": event.object_type, "id": event.object_id, "name": event.object_name}

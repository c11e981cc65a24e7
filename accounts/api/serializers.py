from rest_framework import serializers

from vetted.serializers import TypedModelSerializer, TypedSerializer

from ..models import ApiToken, TokenScope


class TeamSerializer(TypedSerializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class TokenSerializer(TypedModelSerializer):
    team = serializers.CharField(source="team.slug", default=None, allow_null=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "team",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The token itself: shown this once, never again.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class TokenCreateSerializer(TypedSerializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=TokenScope.choices), min_length=1
    )
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    team = serializers.SlugField(
        required=False, help_text="Limit the token to this team's models (a team you are in)."
    )

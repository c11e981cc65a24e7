"""The API of a model's drift and fairness settings: `/api/v1/models/{name}/monitoring/settings/`.

Reading is for the model's team; replacing the model's own values for its owners and DevOps
(monitoring.access), with a token carrying the write scope. The rules live in
monitoring.model_settings and monitoring.stats.options.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.access import get_model_for
from registry.models import RegisteredModel
from vetted.serializers import TypedSerializer

from .. import model_settings
from ..stats import options


def _setting_field(key: str, *, required: bool) -> serializers.Field:
    help_text = model_settings.HELP[key]
    if key in options.CHOICES:
        return serializers.ChoiceField(
            choices=options.CHOICES[key], help_text=help_text, required=required
        )
    if key in options.COUNTS:
        return serializers.IntegerField(
            min_value=options.COUNTS[key], help_text=help_text, required=required
        )
    return serializers.FloatField(help_text=help_text, required=required)


class SettingValuesSerializer(TypedSerializer):
    """Every setting with its value (the schema of `effective` and `defaults`)."""

    def get_fields(self):
        return {key: _setting_field(key, required=True) for key in options.DEFAULTS}


class OwnSettingValuesSerializer(TypedSerializer):
    """The settings the model set itself; any left out take their defaults."""

    def get_fields(self):
        return {key: _setting_field(key, required=False) for key in options.DEFAULTS}


class ModelSettingsSerializer(TypedSerializer):
    model = serializers.CharField()
    values = OwnSettingValuesSerializer(help_text="The model's own values.")
    effective = SettingValuesSerializer(help_text="What its evaluations use: defaults + values.")
    defaults = SettingValuesSerializer(help_text="The documented defaults (docs/monitoring.md).")


class ModelSettingsInputSerializer(TypedSerializer):
    values = serializers.DictField(
        help_text="The model's own values, replacing the ones it had: any of the keys of "
        "`defaults`; a key left out takes its default, {} puts every setting back."
    )


def settings_data(model: RegisteredModel, values: dict) -> dict:
    return {
        "model": model.name,
        "values": values,
        "effective": model_settings.effective_settings(values),
        "defaults": options.DEFAULTS,
    }


class MonitoringSettings(APIView):
    @extend_schema(
        responses=ModelSettingsSerializer,
        summary="The model's drift and fairness methods and thresholds",
    )
    def get(self, request, name):
        model = get_model_for(request.user, name)
        return Response(settings_data(model, model_settings.own_settings(model)))

    @extend_schema(
        request=ModelSettingsInputSerializer,
        responses=ModelSettingsSerializer,
        summary="Replace the model's own settings (team owners and DevOps)",
    )
    def put(self, request, name):
        model = get_model_for(request.user, name)
        data = ModelSettingsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stored = model_settings.set_model_settings(
            actor=request.user, model=model, values=data.validated_data["values"]
        )
        return Response(settings_data(model, stored))

"""The API of notifications: your inbox, read marks, preferences, the models you watch."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.access import get_model_for

from .. import selectors, services
from ..models import Event, Notification
from .serializers import (
    MarkedSerializer,
    MarkReadSerializer,
    NotificationSerializer,
    PreferencesChangeSerializer,
    PreferencesSerializer,
    WatchSerializer,
)

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


@extend_schema(
    parameters=[OpenApiParameter("unread", bool, description="true: only unread ones")],
    summary="Your notifications, newest first",
)
class NotificationList(generics.ListAPIView):
    serializer_class = NotificationSerializer
    filter_backends: list = []

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").lower()
        if unread not in ("", *TRUE, *FALSE):
            raise ValidationError({"unread": ["Use true or false."]})
        return selectors.inbox(self.request.user, unread_only=unread in TRUE)


class MarkRead(APIView):
    @extend_schema(
        request=MarkReadSerializer,
        responses=MarkedSerializer,
        summary='Mark notifications read: {"ids": [...]} or {"all": true}',
    )
    def post(self, request):
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            marked = services.mark_read(
                user=request.user,
                ids=data.validated_data.get("ids", []),
                everything=data.validated_data.get("all", False),
            )
        except Notification.DoesNotExist as error:
            raise Http404(str(error)) from None
        body = {"marked": marked, "unread": selectors.unread_count(request.user)}
        return Response(MarkedSerializer(body).data)


def _preferences_response(user) -> Response:
    rows = [
        {"event": event, "description": Event(event).label, **channels}
        for event, channels in selectors.preferences_of(user).items()
    ]
    return Response(PreferencesSerializer({"preferences": rows}).data)


class Preferences(APIView):
    @extend_schema(responses=PreferencesSerializer, summary="Which events reach you, and how")
    def get(self, request):
        return _preferences_response(request.user)

    @extend_schema(
        request=PreferencesChangeSerializer,
        responses=PreferencesSerializer,
        summary="Change the channels of some events (the others keep theirs)",
    )
    def put(self, request):
        data = PreferencesChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        choices = {
            item["event"]: {k: v for k, v in item.items() if k != "event"}
            for item in data.validated_data["preferences"]
        }
        services.set_preferences(actor=request.user, choices=choices)
        return _preferences_response(request.user)


class ModelWatch(APIView):
    def _answer(self, request, model) -> Response:
        state = selectors.watch_state(request.user, model)
        return Response(WatchSerializer({"model": model.name, **state}).data)

    @extend_schema(responses=WatchSerializer, summary="Whether you watch the model")
    def get(self, request, name):
        return self._answer(request, get_model_for(request.user, name))

    @extend_schema(
        request=None,
        responses=WatchSerializer,
        summary="Watch the model: hear of its promotions and rollbacks",
    )
    def post(self, request, name):
        model = get_model_for(request.user, name)
        services.set_watching(actor=request.user, model=model, watching=True)
        return self._answer(request, model)

    @extend_schema(responses={204: None}, summary="Stop watching the model")
    def delete(self, request, name):
        model = get_model_for(request.user, name)
        services.set_watching(actor=request.user, model=model, watching=False)
        return Response(status=status.HTTP_204_NO_CONTENT)

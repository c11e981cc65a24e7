"""The API of accounts: the teams you are in, your tokens."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import ApiToken
from .serializers import (
    TeamSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)


class TeamList(APIView):
    @extend_schema(responses=TeamSerializer(many=True), summary="Teams you belong to")
    def get(self, request):
        teams = selectors.teams_of(request.user)
        return Response(TeamSerializer(teams, many=True).data)


class TokenList(APIView):
    @extend_schema(responses=TokenSerializer(many=True), summary="Your API tokens")
    def get(self, request):
        tokens = request.user.api_tokens.select_related("team")
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request):
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "team" in fields:
            team = selectors.teams_of(request.user).filter(slug=fields["team"]).first()
            if team is None:
                raise Http404(f"You are not in a team called {fields['team']!r}.")
            fields["team"] = team
        token, plain = services.create_token(user=request.user, **fields)
        body = TokenSerializer(token).data | {"token": plain}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetail(APIView):
    @extend_schema(responses={204: None}, summary="Revoke a token")
    def delete(self, request, token_id):
        try:
            services.revoke_token(user=request.user, token_id=token_id)
        except ApiToken.DoesNotExist:
            raise Http404("You have no such token.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)

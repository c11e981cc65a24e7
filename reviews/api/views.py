"""The API of promotion requests and review policies: validate, call one service, render."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiToken
from registry.access import Action, get_model_for, get_version_for, teams_allowing

from .. import policies, selectors, services
from .serializers import (
    CloseSerializer,
    PolicySerializer,
    RequestCreateSerializer,
    RequestDetailSerializer,
    RequestSerializer,
    ReviewCreateSerializer,
    request_data,
    request_detail_data,
)


def _token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def _answer(http_request, number: int, code=status.HTTP_200_OK) -> Response:
    request = selectors.request_for(http_request.user, number)
    return Response(RequestSerializer(request_data(http_request, request)).data, status=code)


class ModelRequests(APIView):
    writes_can_conflict = True  # two openings of the same move at once

    @extend_schema(
        request=RequestCreateSerializer,
        responses={201: RequestSerializer},
        summary="Open a promotion request for a version",
    )
    def post(self, request, name):
        data = RequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        version = get_version_for(request.user, name, fields["version"], Action.PUSH)
        opened = services.open_request(
            actor=request.user,
            version=version,
            to_stage=fields["to_stage"],
            message=fields["message"],
            token=_token(request),
        )
        return _answer(request, opened.number, status.HTTP_201_CREATED)


class RequestList(generics.ListAPIView):
    """Pages of requests; with awaiting=me, of the open ones the caller's role can still approve
    (that is decided request by request, so those pages are cut from the whole list)."""

    serializer_class = RequestSerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=["", "open", "merged", "withdrawn", "closed"],
                description="Empty: any",
            ),
            OpenApiParameter(
                "awaiting",
                str,
                enum=["", "me"],
                description="me: requests your role can still approve",
            ),
            OpenApiParameter("mine", bool, description="Only requests you opened"),
        ],
        summary="Promotion requests you can see, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def _awaiting(self) -> bool:
        awaiting = self.request.query_params.get("awaiting", "")
        if awaiting not in ("", "me"):
            raise ValidationError({"awaiting": ["The only value is me."]})
        return awaiting == "me"

    def get_queryset(self):
        q = self.request.query_params
        state = q.get("state", "open")
        if state not in ("", "open", "merged", "withdrawn", "closed"):
            raise ValidationError(
                {"state": ["Use open, merged, withdrawn or closed (empty: any)."]}
            )
        mine = q.get("mine", "false")
        if mine not in ("true", "false", "1", "0", ""):
            raise ValidationError({"mine": ["Use true or false."]})
        user, awaiting = self.request.user, self._awaiting()
        found = selectors.request_query(
            user, state=state, awaiting=awaiting, mine=mine in ("true", "1")
        )
        if awaiting:
            return [row.request for row in selectors.rows_of(user, list(found), awaiting=True)]
        return found

    def list(self, request, *args, **kwargs):
        page = selectors.attach_context(list(self.paginate_queryset(self.get_queryset()) or []))
        body = [request_data(request, found) for found in page]
        return self.get_paginated_response(RequestSerializer(body, many=True).data)


class RequestDetail(APIView):
    @extend_schema(
        responses=RequestDetailSerializer,
        summary="A request, its checks, what is missing and its conversation",
    )
    def get(self, request, number):
        found = selectors.request_for(request.user, number)
        return Response(RequestDetailSerializer(request_detail_data(request, found)).data)


class RequestReviews(APIView):
    writes_can_conflict = True  # the request was merged, withdrawn or closed meanwhile

    @extend_schema(
        request=ReviewCreateSerializer,
        responses={201: RequestSerializer},
        summary="Approve, request changes or comment",
    )
    def post(self, request, number):
        data = ReviewCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.give_review(
            actor=request.user,
            request=selectors.request_for(request.user, number),
            token=_token(request),
            **data.validated_data,
        )
        return _answer(request, number, status.HTTP_201_CREATED)


class RequestMerge(APIView):
    writes_can_conflict = True

    @extend_schema(request=None, responses=RequestSerializer, summary="Promote the version now")
    def post(self, request, number):
        services.merge(
            actor=request.user,
            request=selectors.request_for(request.user, number),
            token=_token(request),
        )
        return _answer(request, number)


class RequestWithdraw(APIView):
    writes_can_conflict = True

    @extend_schema(request=None, responses=RequestSerializer, summary="Withdraw your request")
    def post(self, request, number):
        services.withdraw(actor=request.user, request=selectors.request_for(request.user, number))
        return _answer(request, number)


class RequestClose(APIView):
    writes_can_conflict = True

    @extend_schema(
        request=CloseSerializer, responses=RequestSerializer, summary="Close a request, saying why"
    )
    def post(self, request, number):
        data = CloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.close(
            actor=request.user,
            request=selectors.request_for(request.user, number),
            reason=data.validated_data["reason"],
        )
        return _answer(request, number)


class TeamPolicies(APIView):
    @extend_schema(responses=PolicySerializer(many=True), summary="The team's review policies")
    def get(self, request, slug):
        team = _team_for(request.user, slug)
        return Response(PolicySerializer(selectors.team_policies(team), many=True).data)

    @extend_schema(
        request=PolicySerializer,
        responses=PolicySerializer,
        summary="Set the team's (or one model's) policy for a stage; team owners only",
    )
    def put(self, request, slug):
        team = _team_for(request.user, slug)
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        model = None
        if fields.pop("model"):
            model = get_model_for(request.user, data.validated_data["model"])
            if model.team_id != team.pk:
                raise Http404(f"Team {team.slug} has no model {model.name!r}.")
        saved = services.set_policy(actor=request.user, team=team, model=model, **fields)
        shown = policies.from_row(saved, policies.SOURCE_MODEL if model else policies.SOURCE_TEAM)
        return Response(
            PolicySerializer(selectors.policy_data(shown, model.name if model else None)).data
        )


def _team_for(user, slug: str):
    team = teams_allowing(user, Action.VIEW).filter(slug=slug).first()
    if team is None:
        raise Http404(f"You are not in a team called {slug!r}.")
    return team

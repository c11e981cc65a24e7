"""API representations of requests, reviews and policies. Rules live in reviews.services."""

from dataclasses import asdict

from django.urls import reverse
from rest_framework import serializers

from vetted.serializers import TypedSerializer

from .. import selectors
from ..models import Decision, PromotionRequest, RequestKind, RequestState, TargetStage
from ..services import REVIEWING_ROLES


class RequestCreateSerializer(TypedSerializer):
    version = serializers.IntegerField(min_value=1)
    to_stage = serializers.ChoiceField(choices=TargetStage.choices)
    message = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")


class ReviewCreateSerializer(TypedSerializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    body = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")


class CloseSerializer(TypedSerializer):
    reason = serializers.CharField(max_length=1000)


CHECK_STATES = ["pass", "fail", "pending"]  # named in the schema by ENUM_NAME_OVERRIDES


class CheckSerializer(TypedSerializer):
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=CHECK_STATES)
    detail = serializers.CharField()
    url = serializers.CharField(help_text="The evidence's page (an evaluation run), or empty")


class ReviewSerializer(TypedSerializer):
    id = serializers.IntegerField()
    reviewer = serializers.CharField(allow_null=True)
    role = serializers.CharField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    dismissed_at = serializers.DateTimeField(allow_null=True)
    dismissed_reason = serializers.CharField()


class RequestSerializer(TypedSerializer):
    number = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.IntegerField()
    to_stage = serializers.ChoiceField(choices=TargetStage.choices)
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    state = serializers.ChoiceField(choices=RequestState.choices)
    author = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    close_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    merged_by = serializers.CharField(allow_null=True)
    checks = CheckSerializer(many=True)
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="What is still needed before it can be merged."
    )
    reviews = ReviewSerializer(many=True)
    url = serializers.CharField(help_text="The request's page")


MESSAGE_KINDS = ["review", "comment", "event"]  # named in the schema by ENUM_NAME_OVERRIDES
MESSAGE_EVENTS = ["opened", "merged", "withdrawn", "closed"]


class MessageSerializer(TypedSerializer):
    kind = serializers.ChoiceField(choices=MESSAGE_KINDS)
    author = serializers.CharField(allow_null=True)
    body = serializers.CharField(help_text="Markdown; empty for a deleted comment")
    at = serializers.DateTimeField()
    decision = serializers.ChoiceField(
        choices=Decision.choices, allow_null=True, help_text="A review's decision"
    )
    event = serializers.ChoiceField(
        choices=MESSAGE_EVENTS,
        allow_null=True,
        help_text="What an event did to the request; its body is the message or the reason",
    )
    dismissed = serializers.BooleanField(help_text="A review that no longer counts")
    thread = serializers.IntegerField(allow_null=True, help_text="A comment's thread")


class RequestDetailSerializer(RequestSerializer):
    conversation = MessageSerializer(
        many=True, help_text="Reviews, comments and events, in time order"
    )


def _username(user) -> str | None:
    return user.username if user is not None else None


def request_data(http_request, request: PromotionRequest) -> dict:
    """A request as the API shows it: with its checks and what is missing when it is open."""
    status = selectors.status_of(request) if request.is_open else None
    return {
        "number": request.number,
        "model": request.model.name,
        "version": request.version.number,
        "to_stage": request.to_stage,
        "kind": request.kind,
        "state": request.state,
        "author": _username(request.author),
        "message": request.message,
        "close_reason": request.close_reason,
        "created_at": request.created_at,
        "closed_at": request.closed_at,
        "merged_by": _username(request.merged_by),
        "checks": [
            {"name": c.name, "state": c.state, "detail": c.detail, "url": c.url}
            for c in (status.checks if status else [])
        ],
        "missing": status.missing if status else [],
        "reviews": [
            {
                "id": r.pk,
                "reviewer": _username(r.reviewer),
                "role": r.reviewer_role,
                "decision": r.decision,
                "body": r.body,
                "created_at": r.created_at,
                "dismissed_at": r.dismissed_at,
                "dismissed_reason": r.dismissed_reason,
            }
            for r in selectors.conversation(request)
        ],
        "url": http_request.build_absolute_uri(reverse("reviews:request", args=[request.number])),
    }


class CheckSpecField(serializers.DictField):
    """One named check: {"kind": ..., ...}; its kind validates the rest."""


class PolicySerializer(TypedSerializer):
    to_stage = serializers.ChoiceField(choices=TargetStage.choices)
    model = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A model's own policy; null: the team's",
    )
    required_approvals = serializers.IntegerField(min_value=0, max_value=20)
    required_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=REVIEWING_ROLES), required=False, default=list
    )
    author_may_approve = serializers.BooleanField(required=False, default=False)
    auto_merge = serializers.BooleanField(required=False, default=False)
    checks = serializers.ListField(child=CheckSpecField(), required=False, default=list)
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        default=list,
        max_length=20,
        help_text="Aliases that stand for this stage: each moves only to a version in it or"
        " with a merged promotion request to it",
    )
    scope = serializers.ChoiceField(
        choices=["default", "team", "model"],
        read_only=True,
        help_text="default: built in, no row yet; team or model: set by the team's owners",
    )


def request_detail_data(http_request, request: PromotionRequest) -> dict:
    """The request with its whole conversation (for one request, not a list)."""
    return {
        **request_data(http_request, request),
        "conversation": [
            asdict(message) for message in selectors.messages(http_request.user, request)
        ],
    }

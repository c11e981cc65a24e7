"""Promotion requests, the policies that decide when one may be merged, and the reviews on them.

A version reaches staging or production only through a merged request (or a recorded emergency
rollback): reviews' gate in the registry's state machine refuses any other move there.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import ApiToken, Team
from registry.models import ModelVersion, RegisteredModel, TeamOwnedQuerySet


class TargetStage(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class Policy(models.Model):
    """What a team asks before a version reaches a stage; one per model overrides the team's.

    No row: the built-in default (reviews.policies.DEFAULTS). `checks` is a list of named
    automatic checks, each {"kind": ..., ...} as its kind (reviews.checks) cleans it. `aliases`
    stand for the stage: one moves only to a version in it or with a merged request to it.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="review_policies")
    model = models.ForeignKey(
        RegisteredModel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_policies",
    )
    to_stage = models.CharField(max_length=20, choices=TargetStage.choices)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    required_roles = models.JSONField(default=list, blank=True)
    author_may_approve = models.BooleanField(default=False)
    auto_merge = models.BooleanField(default=False)
    checks = models.JSONField(default=list, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = TeamOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["team_id", "model_id", "to_stage"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "to_stage"],
                condition=Q(model__isnull=True),
                name="one_team_policy_per_stage",
            ),
            models.UniqueConstraint(
                fields=["model", "to_stage"],
                condition=Q(model__isnull=False),
                name="one_model_policy_per_stage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model or self.team} → {self.to_stage}"


class RequestKind(models.TextChoices):
    PROMOTE = "promote", "Promotion"
    ROLLBACK = "rollback", "Rollback"


class RequestState(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    WITHDRAWN = "withdrawn", "Withdrawn"
    CLOSED = "closed", "Closed"


class PromotionRequestQuerySet(TeamOwnedQuerySet):
    team_path = "model__team"


class PromotionRequest(models.Model):
    """Asks to move one version to staging or production (or production back to an earlier one).

    Its state only leaves `open`, by a conditional update under a row lock (services.py).
    """

    number = models.PositiveIntegerField(unique=True)
    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="promotion_requests"
    )
    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="promotion_requests"
    )
    to_stage = models.CharField(max_length=20, choices=TargetStage.choices)
    kind = models.CharField(max_length=20, choices=RequestKind.choices, default=RequestKind.PROMOTE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    author_token = models.ForeignKey(
        ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)
    state = models.CharField(
        max_length=20, choices=RequestState.choices, default=RequestState.OPEN, db_index=True
    )
    close_reason = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PromotionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "to_stage"],
                condition=Q(state="open"),
                name="one_open_request_per_version_and_stage",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.number}: {self.model.name} v{self.version.number} → {self.to_stage}"

    @property
    def is_open(self) -> bool:
        return self.state == RequestState.OPEN


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    COMMENT = "comment", "Comment"


class Review(models.Model):
    """One reviewer's decision on a request. A newer approve or request-changes by the same
    reviewer dismisses the earlier one; an approval is also dismissed when what it approved (the
    policy, the checks' results, kept in `checks_seen`) changes."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reviewer_role = models.CharField(max_length=20, blank=True)  # the role when it was given
    decision = models.CharField(max_length=20, choices=Decision.choices)
    body = models.TextField(blank=True)
    checks_seen = models.JSONField(default=dict, blank=True)  # check name → state, when given
    created_at = models.DateTimeField(auto_now_add=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.reviewer}: {self.decision} on request {self.request_id}"

    @property
    def is_active(self) -> bool:
        return self.dismissed_at is None

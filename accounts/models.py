"""People and their rights: teams, memberships with roles, and API tokens. Every app uses them."""

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    DATA_SCIENTIST = "data_scientist", "Data scientist"
    DEVOPS = "devops", "DevOps"
    APP_DEVELOPER = "app_developer", "App developer"
    VIEWER = "viewer", "Viewer"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "registry_team"  # created by the registry before accounts/ existed
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one team; owners may do everything within the team."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_owner = models.BooleanField(default=False)

    class Meta:
        db_table = "registry_membership"
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    # Approving, requesting changes and merging promotion requests: a person's decision, never
    # a default, so a CI token (read, write) cannot approve what it pushed.
    REVIEW = "review", "Review"


class ApiToken(models.Model):
    """A bearer token `vt_<prefix>_<secret>`: found by prefix, compared by sha256, never stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # A token limited to one team sees and acts on that team's models only; None: all the user's.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "registry_apitoken"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (vt_{self.prefix}_…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

"""The registry's data: registered models, versions, artifacts, stages and aliases."""

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.access import token_team_id
from accounts.models import ApiToken, Membership, Team

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
model_name_validator = RegexValidator(
    MODEL_NAME_PATTERN,
    "Use 1-100 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
)
alias_name_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_-]{0,49}$",
    "An alias is 1-50 letters, digits, dashes or underscores, starting with a letter.",
)


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"
    RANKING = "ranking", "Ranking"
    CLUSTERING = "clustering", "Clustering"
    FORECASTING = "forecasting", "Forecasting"
    OTHER = "other", "Other"


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _visible_team_ids(user):
    """The teams whose objects `user` may see, as a subquery (None: every team, a superuser's).

    A token limited to one team narrows this to that team, if the user is still in it.
    """
    if not user.is_authenticated:
        return Team.objects.none().values("id")
    limited = token_team_id(user)
    if user.is_superuser:
        return None if limited is None else Team.objects.filter(pk=limited).values("id")
    memberships = Membership.objects.filter(user=user)
    if limited is not None:
        memberships = memberships.filter(team_id=limited)
    return memberships.values("team_id")


class TeamOwnedQuerySet(models.QuerySet):
    """`for_user(user)`: exactly the rows the user may see; pages, API and selectors use it."""

    team_path = "team"

    def for_user(self, user):
        teams = _visible_team_ids(user)
        return self if teams is None else self.filter(**{f"{self.team_path}_id__in": teams})


class RegisteredModelQuerySet(TeamOwnedQuerySet):
    team_path = "team"


class ModelVersionQuerySet(TeamOwnedQuerySet):
    team_path = "model__team"


class VersionPartQuerySet(TeamOwnedQuerySet):
    team_path = "version__model__team"


class ModelAliasQuerySet(TeamOwnedQuerySet):
    team_path = "model__team"


class RegisteredModel(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[model_name_validator])
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    task_type = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.OTHER)
    description = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Kept by register_version() so lists need no aggregate over versions.
    latest_version_number = models.PositiveIntegerField(default=0)
    # Counts changes to the versions, stages and aliases (services._mark_changed). Cached answers
    # are keyed by it, so no cache entry outlives a change, in any process.
    revision = models.PositiveBigIntegerField(default=0)

    objects = RegisteredModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Stage(models.TextChoices):
    NONE = "none", "None"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class LoadStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"  # the model did not load or predict
    ERRORED = "errored", "Errored"  # the check itself could not run, e.g. no sandbox


class ModelVersion(models.Model):
    """One registered version. Artifacts and lineage never change after registration."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NONE)

    git_repo = models.CharField(max_length=500, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)
    git_branch = models.CharField(max_length=255, blank=True)
    ci_run_url = models.URLField(max_length=500, blank=True)
    training_data_uri = models.CharField(max_length=1000, blank=True)
    training_data_sha256 = models.CharField(max_length=64, blank=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    requirements = models.JSONField(default=list, blank=True)
    flavors = models.JSONField(default=dict, blank=True)
    signature = models.JSONField(null=True, blank=True)
    mlflow_version = models.CharField(max_length=50, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_with_token = models.ForeignKey(
        ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)

    # The newest of `load_checks`, which pages and the API show; earlier attempts stay as history.
    latest_load_check = models.ForeignKey(
        "LoadCheck", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["model_id", "-number"]  # the id, not the model: no join to order by name
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["model", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="version_idempotency_key_unique",
            ),
            models.UniqueConstraint(
                fields=["model"], condition=Q(stage="staging"), name="one_version_in_staging"
            ),
            models.UniqueConstraint(
                fields=["model"], condition=Q(stage="production"), name="one_version_in_production"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.number}"

    @property
    def load_status(self) -> str:
        check = self.latest_load_check
        return check.status if check else LoadStatus.PENDING


FINISHED = (LoadStatus.PASSED, LoadStatus.FAILED, LoadStatus.ERRORED)


class LoadCheck(models.Model):
    """One attempt at loading a version in the sandbox: work as a row.

    Saved first and queued when the transaction commits; a worker claims it with a conditional
    UPDATE (pending → running), so two deliveries never run it twice; it ends passed, failed
    (the model did not load) or errored (the check could not run). A retry is a new attempt.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="load_checks")
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=20, choices=LoadStatus.choices, default=LoadStatus.PENDING, db_index=True
    )
    queued_at = models.DateTimeField(default=timezone.now)
    # Why this attempt was made after an earlier one ("" for the first): pages and API show it.
    reason = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched by the worker every LOAD_CHECK_HEARTBEAT_SECONDS while it runs the check: one not
    # heard from for three beats is lost (its worker died) and is tried again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)  # the whole check, wall time
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    load_seconds = models.FloatField(null=True, blank=True)  # the model's load and predict
    prediction_shape = models.JSONField(null=True, blank=True)
    isolation = models.CharField(max_length=300, blank=True)

    objects = VersionPartQuerySet.as_manager()

    class Meta:
        ordering = ["-attempt"]
        constraints = [
            models.UniqueConstraint(fields=["version", "attempt"], name="one_attempt_number"),
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(status__in=["pending", "running"]),
                name="one_open_load_check",
            ),
        ]

    def __str__(self) -> str:
        return f"load check {self.attempt} of version {self.version_id}: {self.status}"

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    @property
    def weakly_isolated(self) -> bool:
        return self.isolation.startswith("weak")


class Artifact(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="artifacts")
    path = models.CharField(max_length=500)
    storage_name = models.CharField(max_length=700)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    objects = VersionPartQuerySet.as_manager()

    class Meta:
        # A version's files are stored sorted by path (Python's code-point order) and listed in
        # that order: the same on every database, whatever its collation, and known without
        # reading them back.
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "path"], name="artifact_path_unique")
        ]

    def __str__(self) -> str:
        return self.path


class ModelAlias(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=50, validators=[alias_name_validator])
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelAliasQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="alias_unique")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.name}"


class StageChange(models.Model):
    """History of stage moves: who moved which version from where to where."""

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.version}: {self.from_stage} → {self.to_stage}"

"""What the MLflow protocol needs beyond the registry's own rows.

Experiments, runs and logged models are staging records: an MLflow client writes into them while
it trains and logs, and nothing in Vetted relies on them until `model-versions/create` copies a
run's lineage into an immutable ModelVersion and freezes its artifacts. MLflow's key-value tags
on models and versions, and where a version came from, are kept beside the registry's rows.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Team
from registry.models import ModelVersion, RegisteredModel

DEFAULT_EXPERIMENT_ID = 0  # MLflow's "Default" experiment, shared, made by migration 0001


class LifecycleStage(models.TextChoices):
    ACTIVE = "active", "Active"
    DELETED = "deleted", "Deleted"


class Experiment(models.Model):
    # None for the shared Default experiment; a run or logged model filed there has its own team.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="mlflow_experiments"
    )
    name = models.CharField(max_length=500)
    lifecycle_stage = models.CharField(
        max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    tags = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="mlflow_experiment_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class Run(models.Model):
    run_id = models.CharField(max_length=32, primary_key=True)  # uuid4 hex, as MLflow's
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="mlflow_runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    name = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    start_time = models.BigIntegerField(null=True, blank=True)  # ms since the epoch
    end_time = models.BigIntegerField(null=True, blank=True)
    lifecycle_stage = models.CharField(
        max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    params = models.JSONField(default=dict, blank=True)  # key -> value, as strings
    tags = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=list, blank=True)  # DatasetInput and ModelInput, as sent
    outputs = models.JSONField(default=list, blank=True)  # ModelOutput, as sent
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.run_id


class MetricPoint(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metric_points")
    key = models.CharField(max_length=250)
    value = models.FloatField()  # NaN and ±inf are MLflow values too
    timestamp = models.BigIntegerField()  # ms
    step = models.BigIntegerField(default=0)
    model_id = models.CharField(max_length=40, blank=True)
    dataset_name = models.CharField(max_length=500, blank=True)
    dataset_digest = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [models.Index(fields=["run", "key"])]

    def __str__(self) -> str:
        return f"{self.key}={self.value} (step {self.step})"


class LoggedModelStatus(models.TextChoices):
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    FAILED = "LOGGED_MODEL_UPLOAD_FAILED"


class LoggedModel(models.Model):
    model_id = models.CharField(max_length=40, primary_key=True)  # "m-" + uuid4 hex
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="logged_models"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="mlflow_logged_models")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    source_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="logged_models"
    )
    name = models.CharField(max_length=500)
    model_type = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=30, choices=LoggedModelStatus.choices, default=LoggedModelStatus.PENDING
    )
    status_message = models.TextField(blank=True)
    lifecycle_stage = models.CharField(
        max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.ACTIVE
    )
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.model_id


class RegisteredModelTag(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="mlflow_tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="mlflow_model_tag_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class ModelVersionTag(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="mlflow_tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="mlflow_version_tag_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class VersionSource(models.Model):
    """Where a version registered through MLflow came from (absent for Vetted's own pushes)."""

    version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, primary_key=True, related_name="mlflow_source"
    )
    source = models.CharField(max_length=1000)  # as the client sent it: models:/m-… or runs:/…
    # The run's id as sent (MLflow's `run_id`), kept even if the staging run is deleted later.
    mlflow_run_id = models.CharField(max_length=32, blank=True)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    logged_model = models.ForeignKey(
        LoggedModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run_link = models.CharField(max_length=1000, blank=True)
    datasets = models.JSONField(default=list, blank=True)  # the run's logged dataset inputs
    updated_at = models.DateTimeField(default=timezone.now)  # last_updated_timestamp in MLflow

    def __str__(self) -> str:
        return self.source


class StagedArtifact(models.Model):
    """A file an MLflow client uploaded into a run's or a logged model's artifacts.

    Each upload is stored under a name of its own and this row then points at it, so a file is
    replaced in one step: parallel uploads of the same path never leave a torn file, and the
    last one to finish wins. A version copies these files when it is registered (freeze.py).
    """

    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, null=True, blank=True, related_name="staged_artifacts"
    )
    logged_model = models.ForeignKey(
        LoggedModel,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="staged_artifacts",
    )
    path = models.CharField(max_length=500)  # relative to the owner's artifact root
    storage_name = models.CharField(max_length=700)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(run__isnull=False, logged_model__isnull=True)
                | models.Q(run__isnull=True, logged_model__isnull=False),
                name="mlflow_staged_artifact_one_owner",
            ),
            models.UniqueConstraint(
                fields=["run", "path"],
                condition=models.Q(run__isnull=False),
                name="mlflow_staged_artifact_unique_run_path",
            ),
            models.UniqueConstraint(
                fields=["logged_model", "path"],
                condition=models.Q(logged_model__isnull=False),
                name="mlflow_staged_artifact_unique_model_path",
            ),
        ]

    def __str__(self) -> str:
        return self.path

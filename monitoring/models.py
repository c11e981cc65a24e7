"""The monitoring app's data: datasets, reference profiles, evaluation runs, monitors and alerts.

An evaluation is work as a row, in the load check's pattern: an EvaluationRun is saved first and
queued when the transaction commits; a worker claims it with a conditional UPDATE (pending →
running), so two deliveries never run it twice, and writes its metrics once, at the end.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel, TeamOwnedQuerySet


class ModelPartQuerySet(TeamOwnedQuerySet):
    team_path = "model__team"


class VersionRunQuerySet(TeamOwnedQuerySet):
    team_path = "version__model__team"


class MonitorPartQuerySet(TeamOwnedQuerySet):
    team_path = "monitor__model__team"


class DatasetKind(models.TextChoices):
    REFERENCE = "reference", "Reference"  # training or validation data: what "normal" looks like
    EVALUATION = "evaluation", "Evaluation"  # held out and labelled: judges new versions
    BATCH = "batch", "Production batch"  # what the live model saw, labels when they arrive


class Dataset(models.Model):
    """One uploaded table, stored as Parquet through the storage API; immutable once saved.

    `schema` is the stored columns in order, each `{"name", "type"}` with MLflow's type names
    (double, long, boolean, string, datetime); `missing` counts missing values per column.
    The named columns say what each is for; every other column of the signature is a feature.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="datasets")
    # The version whose signature the upload was checked against (the latest at upload time).
    checked_against = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=DatasetKind.choices)
    name = models.CharField(max_length=255)  # the uploaded file's name, for people
    storage_name = models.CharField(max_length=700)
    size = models.BigIntegerField()  # bytes of the stored Parquet file
    sha256 = models.CharField(max_length=64)  # of the stored Parquet file
    row_count = models.BigIntegerField()
    schema = models.JSONField(default=list)
    missing = models.JSONField(default=dict)
    feature_columns = models.JSONField(default=list)
    label_column = models.CharField(max_length=255, blank=True)
    prediction_column = models.CharField(max_length=255, blank=True)
    score_column = models.CharField(max_length=255, blank=True)  # P(positive class)
    protected_columns = models.JSONField(default=list)
    # When the data was seen (a batch's time, --at); the upload time when not given.
    observed_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModelPartQuerySet.as_manager()

    class Meta:
        ordering = ["-observed_at", "-id"]
        indexes = [models.Index(fields=["model", "kind", "observed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.model_id}"


class ReferenceProfile(models.Model):
    """What later evaluations need of a reference dataset, computed once when it is uploaded.

    `profile` holds per feature the bin edges from reference quantiles, counts per bin, category
    frequencies, moments and missing counts (monitoring.stats.profile builds and reads it); the
    sorted numeric columns, which KS and Wasserstein need whole, are a NumPy file in storage.
    """

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="profile")
    profile = models.JSONField(default=dict)
    sorted_storage_name = models.CharField(max_length=700, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"profile of dataset {self.dataset_id}"


class EvaluationKind(models.TextChoices):
    PERFORMANCE = "performance", "Performance"
    DRIFT = "drift", "Data drift"
    FAIRNESS = "fairness", "Fairness"


class Trigger(models.TextChoices):
    UPLOAD = "upload", "New version"
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "On demand"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class EvaluationRun(models.Model):
    """One evaluation of one version on one dataset (and a reference, for drift).

    `inputs_key` names the inputs (version, kind, datasets, settings): a second request for the
    same evaluation finds the run that exists instead of making a duplicate, unless that failed.
    `metrics` is written once, when the run ends, with the names of monitoring.stats.
    """

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="evaluation_runs"
    )
    kind = models.CharField(max_length=20, choices=EvaluationKind.choices)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="runs")
    # Drift compares against this; performance and fairness leave it empty.
    reference = models.ForeignKey(
        Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="reference_runs"
    )
    # Production batches a scheduled run covers beyond `dataset` (its window), oldest first.
    window = models.ManyToManyField(Dataset, blank=True, related_name="window_runs")
    monitor = models.ForeignKey(
        "Monitor", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    # On upload, the production version's run on the same data, shown side by side.
    baseline = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    inputs_key = models.CharField(max_length=64, db_index=True)
    options = models.JSONField(default=dict)  # the thresholds and methods it ran with
    status = models.CharField(
        max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True
    )
    progress = models.FloatField(default=0.0)  # 0 to 1
    progress_note = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # 0 when one worker predicts; else the slices its predictions fanned out into (a chord) and
    # how many have written their part, which is the run's progress while it predicts.
    slices = models.PositiveIntegerField(default=0)
    slices_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = VersionRunQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inputs_key"],
                condition=~Q(status="failed"),
                name="one_live_run_per_inputs",
            ),
        ]
        indexes = [models.Index(fields=["version", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.kind} evaluation #{self.pk} of version {self.version_id}: {self.status}"

    @property
    def done(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)


class Interval(models.TextChoices):
    HOURLY = "hourly", "Every hour"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"


class Monitor(models.Model):
    """Which evaluations run on a schedule for a model, on which window, and its alert rules.

    Its schedule is a django-celery-beat PeriodicTask kept in step by monitoring.services.
    `rules` is a list of `{"metric", "op", "warning", "critical"}` (monitoring.rules reads it):
    e.g. `{"metric": "roc_auc", "op": ">=", "warning": 0.85, "critical": 0.8}`.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="monitors")
    name = models.CharField(max_length=100)
    kinds = models.JSONField(default=list)  # EvaluationKind values
    stages = models.JSONField(default=list)  # which live versions: "production", "staging"
    window_days = models.PositiveIntegerField(default=7)
    interval = models.CharField(max_length=20, choices=Interval.choices, default=Interval.DAILY)
    rules = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelPartQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="monitor_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Level(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Alert(models.Model):
    """A rule of a monitor that fails: one open alert per rule and version while it fails.

    It opens when an evaluation breaks the rule, is updated (never duplicated) while the rule
    keeps failing, and resolves when an evaluation passes it again. Acknowledging says someone
    is on it; muting silences its notifications until `muted_until`.
    """

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="alerts")
    rule_key = models.CharField(max_length=200)  # which rule: metric and comparison
    level = models.CharField(max_length=20, choices=Level.choices)
    message = models.CharField(max_length=500)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    run = models.ForeignKey(
        EvaluationRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)

    objects = MonitorPartQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "version", "rule_key"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_alert_per_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.level} alert #{self.pk}: {self.message}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class DigestFrequency(models.TextChoices):
    OFF = "off", "Never"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class DigestPreference(models.Model):
    """How often a user gets the monitoring e-mail about the models they watch."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="monitoring_digest"
    )
    frequency = models.CharField(
        max_length=20, choices=DigestFrequency.choices, default=DigestFrequency.WEEKLY
    )
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.frequency}"


class ModelMonitoringSettings(models.Model):
    """A model's own drift and fairness methods and thresholds; monitoring.stats.options
    documents the defaults used for any key not set here."""

    model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="monitoring_settings"
    )
    values = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"monitoring settings of {self.model_id}"

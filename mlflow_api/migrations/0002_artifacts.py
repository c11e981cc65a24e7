"""Files MLflow clients upload into runs and logged models, before a version freezes them.

A new table; reversed by dropping it (the stored files stay until deleted by hand).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mlflow_api", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="StagedArtifact",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("path", models.CharField(max_length=500)),
                ("storage_name", models.CharField(max_length=700)),
                ("size", models.BigIntegerField()),
                ("sha256", models.CharField(max_length=64)),
                ("uploaded_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "logged_model",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="staged_artifacts",
                        to="mlflow_api.loggedmodel",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="staged_artifacts",
                        to="mlflow_api.run",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("logged_model__isnull", True), ("run__isnull", False)),
                            models.Q(("logged_model__isnull", False), ("run__isnull", True)),
                            _connector="OR",
                        ),
                        name="mlflow_staged_artifact_one_owner",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("run__isnull", False)),
                        fields=("run", "path"),
                        name="mlflow_staged_artifact_unique_run_path",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("logged_model__isnull", False)),
                        fields=("logged_model", "path"),
                        name="mlflow_staged_artifact_unique_model_path",
                    ),
                ],
            },
        ),
    ]

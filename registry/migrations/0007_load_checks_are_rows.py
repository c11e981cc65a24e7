"""The load check becomes its own row (LoadCheck), one per attempt; each version's current
state is copied into its first attempt, and the version points at its latest check.

Reversible: going back copies each version's latest check onto the version again.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def checks_from_versions(apps, schema_editor):
    version_model = apps.get_model("registry", "ModelVersion")
    check_model = apps.get_model("registry", "LoadCheck")
    for version in version_model.objects.all().iterator(chunk_size=500):
        finished = version.load_status in ("passed", "failed", "errored")
        check = check_model.objects.create(
            version=version,
            attempt=1,
            status=version.load_status,
            queued_at=version.created_at,
            finished_at=(version.load_checked_at or version.created_at) if finished else None,
            error=version.load_error,
            load_seconds=version.load_seconds,
            prediction_shape=version.load_prediction_shape,
            isolation=version.load_isolation,
        )
        version_model.objects.filter(pk=version.pk).update(latest_load_check=check)


def versions_from_checks(apps, schema_editor):
    version_model = apps.get_model("registry", "ModelVersion")
    for version in version_model.objects.select_related("latest_load_check").iterator(
        chunk_size=500
    ):
        check = version.latest_load_check
        if check is None:
            continue
        version_model.objects.filter(pk=version.pk).update(
            load_status=check.status,
            load_error=check.error,
            load_seconds=check.load_seconds,
            load_prediction_shape=check.prediction_shape,
            load_checked_at=check.finished_at,
            load_isolation=check.isolation,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0006_teams_and_tokens_move_to_accounts"),
    ]

    operations = [
        migrations.CreateModel(
            name='LoadCheck',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('attempt', models.PositiveIntegerField(default=1)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('passed', 'Passed'), ('failed', 'Failed'), ('errored', 'Errored')], db_index=True, default='pending', max_length=20)),
                ('queued_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('duration_seconds', models.FloatField(blank=True, null=True)),
                ('worker', models.CharField(blank=True, max_length=200)),
                ('error', models.TextField(blank=True)),
                ('load_seconds', models.FloatField(blank=True, null=True)),
                ('prediction_shape', models.JSONField(blank=True, null=True)),
                ('isolation', models.CharField(blank=True, max_length=300)),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='load_checks', to='registry.modelversion')),
            ],
            options={
                'ordering': ['-attempt'],
            },
        ),
        migrations.AddField(
            model_name='modelversion',
            name='latest_load_check',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='registry.loadcheck'),
        ),
        migrations.AddConstraint(
            model_name='loadcheck',
            constraint=models.UniqueConstraint(fields=('version', 'attempt'), name='one_attempt_number'),
        ),
        migrations.AddConstraint(
            model_name='loadcheck',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['pending', 'running'])), fields=('version',), name='one_open_load_check'),
        ),
        migrations.RunPython(checks_from_versions, versions_from_checks),
        migrations.RemoveField(
            model_name='modelversion',
            name='load_checked_at',
        ),
        migrations.RemoveField(
            model_name='modelversion',
            name='load_error',
        ),
        migrations.RemoveField(
            model_name='modelversion',
            name='load_isolation',
        ),
        migrations.RemoveField(
            model_name='modelversion',
            name='load_prediction_shape',
        ),
        migrations.RemoveField(
            model_name='modelversion',
            name='load_seconds',
        ),
        migrations.RemoveField(
            model_name='modelversion',
            name='load_status',
        ),
    ]

"""The audit log starts with the history the registry already kept: models created, versions
registered, stage moves and finished load checks, each at its own time (channel "history").

Not undone when migrating back: the log is append-only, on PostgreSQL by a trigger.
"""

from django.db import migrations


def history(apps, schema_editor):
    event = apps.get_model("audit", "AuditEvent")
    model_model = apps.get_model("registry", "RegisteredModel")
    version_model = apps.get_model("registry", "ModelVersion")
    stage_change = apps.get_model("registry", "StageChange")
    load_check = apps.get_model("registry", "LoadCheck")
    if event.objects.exists():
        return  # a database that already has its log needs no history rebuilt

    def row(*, at, actor, verb, object_type, object_id, object_name, model, **changes):
        return event(
            at=at,
            actor_id=actor.pk if actor else None,
            actor_name=actor.username if actor else "",
            channel="history",
            verb=verb,
            object_type=object_type,
            object_id=str(object_id),
            object_name=object_name,
            team_id=model.team_id,
            team_slug=model.team.slug,
            model_name=model.name,
            **changes,
        )

    rows = []
    for model in model_model.objects.select_related("team", "created_by"):
        rows.append(
            row(
                at=model.created_at,
                actor=model.created_by,
                verb="model.created",
                object_type="model",
                object_id=model.pk,
                object_name=model.name,
                model=model,
                after={"team": model.team.slug, "task_type": model.task_type},
            )
        )
    for version in version_model.objects.select_related("model__team", "created_by"):
        rows.append(
            row(
                at=version.created_at,
                actor=version.created_by,
                verb="version.registered",
                object_type="version",
                object_id=version.pk,
                object_name=f"{version.model.name} v{version.number}",
                model=version.model,
                after={"git_commit": version.git_commit},
            )
        )
    for change in stage_change.objects.select_related("version__model__team", "actor"):
        version = change.version
        rows.append(
            row(
                at=change.created_at,
                actor=change.actor,
                verb="stage.moved",
                object_type="version",
                object_id=version.pk,
                object_name=f"{version.model.name} v{version.number}",
                model=version.model,
                before={"stage": change.from_stage},
                after={"stage": change.to_stage},
            )
        )
    finished = load_check.objects.filter(finished_at__isnull=False)
    for check in finished.select_related("version__model__team"):
        version = check.version
        rows.append(
            row(
                at=check.finished_at,
                actor=None,
                verb="load_check.finished",
                object_type="version",
                object_id=version.pk,
                object_name=f"{version.model.name} v{version.number}",
                model=version.model,
                after={"attempt": check.attempt, "status": check.status},
            )
        )
    event.objects.bulk_create(sorted(rows, key=lambda r: r.at), batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_load_checks_are_rows"),
        ("audit", "0003_history_channel"),
    ]

    operations = [migrations.RunPython(history, migrations.RunPython.noop)]

"""On PostgreSQL the database also refuses TRUNCATE of the audit log, whoever asks; and Django's
own base manager (used to delete and update behind the scenes) refuses changes as `objects` does.

TRUNCATE fires no row trigger, so 0002's UPDATE/DELETE trigger does not see it: a statement-level
trigger does, with the same function (it names the operation it refuses).
"""

from django.db import migrations

CREATE = """
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_is_append_only();
"""
DROP = "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;"


def on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_history_channel")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"base_manager_name": "objects", "ordering": ["-at", "-id"]},
        ),
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]

"""Teams, memberships and API tokens now belong to accounts/ (its migration 0001): only state moves.

The foreign keys keep pointing at the same tables; the content types are renamed so that
permissions and admin history follow the models.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ["team", "membership", "apitoken"]


def content_types_to(app_label: str, other: str):
    def move(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        for model in MOVED:
            if not content_type.objects.filter(app_label=app_label, model=model).exists():
                content_type.objects.filter(app_label=other, model=model).update(
                    app_label=app_label
                )

    return move


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("registry", "0005_load_check_errored_and_isolation"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="modelversion",
                    name="created_with_token",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.apitoken",
                    ),
                ),
                migrations.AlterField(
                    model_name="registeredmodel",
                    name="team",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="models",
                        to="accounts.team",
                    ),
                ),
                migrations.DeleteModel(name="Membership"),
                migrations.DeleteModel(name="ApiToken"),
                migrations.DeleteModel(name="Team"),
            ],
        ),
        migrations.RunPython(
            content_types_to("accounts", "registry"), content_types_to("registry", "accounts")
        ),
    ]

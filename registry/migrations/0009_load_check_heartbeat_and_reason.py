"""A load check's heartbeat, and why a later attempt was made.

Both are new columns: checks claimed before stay without a heartbeat and keep the old, long
grace before they count as lost; earlier attempts have no reason. Reversed by dropping them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0008_audit_history'),
    ]

    operations = [
        migrations.AddField(
            model_name='loadcheck',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='loadcheck',
            name='reason',
            field=models.CharField(blank=True, max_length=300),
        ),
    ]

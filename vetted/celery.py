"""The Celery app: started as `celery -A vetted worker` / `celery -A vetted beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetted.settings")

app = Celery("vetted")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""The Celery app: started as `celery -A vetted worker` / `celery -A vetted beat`."""

import logging
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vetted.settings")

app = Celery("vetted")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def say_how_model_code_is_isolated(**kwargs) -> None:
    """The operator reads it at start, not at the first check a model fails to get."""
    from sandbox import config

    status = config.status()
    logger = logging.getLogger("sandbox")
    if status["isolation"] == "unavailable":
        logger.error("Model code will NOT run on this worker: %s", status["problem"])
    elif status["isolation"] == "weak":
        logger.warning("Model code runs WEAKLY ISOLATED: %s", status["problem"])
    else:
        logger.info("Model code runs in %s", status["description"])

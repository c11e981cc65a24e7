"""Vetted: the Django project package (settings, URLs, Celery app, WSGI, CLI)."""

# Tasks queued from web processes must use the project's Celery app, not Celery's default.
from .celery import app as celery_app

__all__ = ["celery_app"]

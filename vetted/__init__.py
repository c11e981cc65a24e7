"""Vetted: the Django project package (settings, URLs, Celery app, WSGI, CLI)."""

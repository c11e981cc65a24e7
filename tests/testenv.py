"""Loaded by pytest before Django (`-p tests.testenv`): the environment tests run in.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set (as in CI); otherwise the
embedded defaults. Each run gets its own artifact folder and Celery queue.
"""

import os
import tempfile

_run_dir = tempfile.mkdtemp(prefix="vetted-tests-")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "tests-only-secret")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("VETTED_VAR_DIR", _run_dir)
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("REDIS_URL") or "memory://")
os.environ.setdefault("CELERY_QUEUE", f"vetted-tests-{os.getpid()}")
os.environ.setdefault("MONITORING_QUEUE", f"vetted-tests-monitoring-{os.getpid()}")
os.environ.setdefault("CACHE_KEY_PREFIX", f"vetted-tests-{os.getpid()}")  # runs share one Redis
os.environ.setdefault("LOAD_CHECK_TIMEOUT_SECONDS", "60")
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")  # live-server threads must not hold the test DB
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in live tests

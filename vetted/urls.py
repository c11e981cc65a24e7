from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path

from accounts import views as account_views
from monitoring.prometheus import metrics_view
from registry.services import artifact_storage
from sandbox import config as sandbox_config
from vetted.celery import app as celery_app


def healthz(request):
    """Liveness and database reachability, for load balancers and `docker compose`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _broker_status() -> str:
    """ "ok", or why the broker (Redis, or the filesystem queue) cannot take a task now."""
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:  # any failure means queued work would not go out
        return f"unavailable: {type(exc).__name__}: {exc}"[:300]
    return "ok"


def _storage_status() -> str:
    """ "ok", or why artifact storage (local folder or S3) cannot be read now."""
    try:
        artifact_storage().exists("readyz-probe")
    except Exception as exc:  # a bucket or folder out of reach, credentials refused
        return f"unavailable: {type(exc).__name__}: {exc}"[:300]
    return "ok"


def readyz(request):
    """Ready to do all its work: the database answers, the broker takes tasks, artifact storage
    can be read, and model code can run sandboxed here.

    503 when the broker or storage is out of reach, or when the sandbox is required (DEBUG off)
    but this machine cannot make it. It reports the machine that answers: with web and worker
    apart (docker compose), the worker's own health check is `manage.py sandbox_status`.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    sandbox = sandbox_config.status()
    broker, storage = _broker_status(), _storage_status()
    ready = sandbox["isolation"] != "unavailable" and broker == "ok" and storage == "ok"
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "database": "ok",
            "broker": broker,
            "storage": storage,
            "sandbox": sandbox,
        },
        status=200 if ready else 503,
    )


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/audit/", include("audit.api.urls")),
    path("api/v1/threads/", include("discussions.api.urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("registry.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("api/v1/", include("reviews.api.urls")),
    path("api/v1/", include("monitoring.api.urls")),
    path("mlflow/", include("mlflow_api.urls")),
    path("audit/", include("audit.urls")),
    path("threads/", include("discussions.urls")),
    path("", include("accounts.urls")),
    path("", include("reviews.urls")),
    path("", include("registry.urls")),
    path("", include("notifications.urls")),
    path("", include("monitoring.urls")),
]

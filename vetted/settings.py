"""Settings, read from the environment with embedded defaults (12-factor).

With no variable set, Vetted runs on SQLite and local files under `var/`, with a Celery broker
on the local filesystem: nothing else to install. Every variable read here is listed in the
README's configuration table.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """Only the spellings below are accepted, so a typo fails at start-up instead of silently."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


VAR_DIR = Path(env_str("VETTED_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
if not SECRET_KEY:
    SECRET_KEY = "insecure-dev-key-only-used-with-DEBUG-on"  # noqa: S105
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

SITE_URL = env_str("SITE_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "accounts",
    "audit",
    "sandbox",
    "registry",
    "notifications",
    "discussions",
    "reviews",
    "monitoring",
    "mlflow_api",
]

MIDDLEWARE = [
    "vetted.middleware.request_id_and_api_errors",
    "django.middleware.security.SecurityMiddleware",
    "vetted.middleware.refuse_nul_bytes",
    "vetted.middleware.refuse_chunked_bodies",
    "audit.middleware.record_request_origin",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "vetted.middleware.own_404_page",
]

ROOT_URLCONF = "vetted.urls"
WSGI_APPLICATION = "vetted.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'vetted.sqlite3'}"),
        # Reused connections save a connect per request on PostgreSQL; SQLite gains nothing.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL and a busy timeout let the web server and the worker write to one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "reviews:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Artifacts: local files under var/ by default, any S3-compatible store when AWS_* is set.
ARTIFACT_STORAGE = env_str("ARTIFACT_STORAGE", "local")
if ARTIFACT_STORAGE == "s3":
    _artifacts = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "file_overwrite": False,
            "default_acl": None,
        },
    }
elif ARTIFACT_STORAGE == "local":
    _artifacts = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(Path(env_str("ARTIFACT_ROOT", str(VAR_DIR / "artifacts"))))},
    }
else:
    raise ImproperlyConfigured(f"ARTIFACT_STORAGE must be local or s3, not {ARTIFACT_STORAGE!r}")
STORAGES = {
    "default": _artifacts,
    "artifacts": _artifacts,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# Uploads: files stream to temporary files on disk past 2.5 MB; our own limit caps the total.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 2 * 1024**3)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("MAX_UPLOAD_FILES", 1000)
# An archive may unpack to at most this many times its own size (past 64 MiB): a zip bomb is
# refused before it is unpacked. Model weights rarely compress better than 10:1.
MAX_ARCHIVE_RATIO = env_int("MAX_ARCHIVE_RATIO", 100)
# Beside the artifacts by default, so a finished upload is renamed into place, not copied.
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR", str(VAR_DIR / "upload-tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# What a killed upload or load check leaves (temporary files, workspaces, folders no version names)
# is deleted once this old: long after any live request or check has finished with it.
DEBRIS_GRACE_HOURS = env_int("DEBRIS_GRACE_HOURS", 6)
if DEBRIS_GRACE_HOURS < 1:
    raise ImproperlyConfigured(
        "DEBRIS_GRACE_HOURS must be at least 1: a shorter wait could delete the files of an"
        " upload or a load check still under way"
    )

# Load check: untrusted model code runs in the sandbox (sandbox/runner.py) under these limits.
LOAD_CHECK_TIMEOUT_SECONDS = env_int("LOAD_CHECK_TIMEOUT_SECONDS", 120)
LOAD_CHECK_MEMORY_MB = env_int("LOAD_CHECK_MEMORY_MB", 4096)
# A running check's worker says it is alive this often; after three silent beats the check is
# lost (its worker died) and beat, which looks as often, queues it again: within about a minute.
LOAD_CHECK_HEARTBEAT_SECONDS = env_int("LOAD_CHECK_HEARTBEAT_SECONDS", 15)
if LOAD_CHECK_HEARTBEAT_SECONDS < 1:
    raise ImproperlyConfigured("LOAD_CHECK_HEARTBEAT_SECONDS must be at least 1")
# Fail closed: with DEBUG off, model code runs in bubblewrap or not at all.
SANDBOX_REQUIRED = env_bool("SANDBOX_REQUIRED", not DEBUG)
SANDBOX_BWRAP = env_str("SANDBOX_BWRAP", "bwrap")
SANDBOX_TMP_MB = env_int("SANDBOX_TMP_MB", 256)
SANDBOX_FILE_SIZE_MB = env_int("SANDBOX_FILE_SIZE_MB", 100)
SANDBOX_MAX_PROCESSES = env_int("SANDBOX_MAX_PROCESSES", 128)
SANDBOX_OUTPUT_KB = env_int("SANDBOX_OUTPUT_KB", 1024)
SANDBOX_RESULT_KB = env_int("SANDBOX_RESULT_KB", 64)

# Celery: Redis when CELERY_BROKER_URL (or REDIS_URL) is set, the local filesystem otherwise.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
    _queue_dir.mkdir(parents=True, exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# Results are kept only by the tasks of a chord (a fanned-out evaluation's slices and callback),
# which need them to know when all slices are in: Redis with a Redis broker, else files.
_result_folder = VAR_DIR / "celery-results"
CELERY_RESULT_BACKEND = (
    env_str(
        "CELERY_RESULT_BACKEND",
        CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
    )
    or f"file://{_result_folder}"
)
if CELERY_RESULT_BACKEND.startswith("file://"):
    Path(CELERY_RESULT_BACKEND.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_EXPIRES = 24 * 3600  # seconds: a chord is read within its evaluation
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-load-checks": {
        "task": "registry.tasks.requeue_stalled_load_checks",
        "schedule": float(LOAD_CHECK_HEARTBEAT_SECONDS),
    },
    "sweep-debris": {"task": "registry.tasks.sweep_debris", "schedule": 3600.0},
    "send-due-emails": {"task": "notifications.tasks.send_due_emails", "schedule": 60.0},
}

CACHES = {
    # Shared by every process (gunicorn's, the worker's): sign-in throttling counts across them.
    # Without Redis (`make run`), files under var/ are what all processes on the machine share.
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
    | {"KEY_PREFIX": env_str("CACHE_KEY_PREFIX")},
    # Rendered answers of the resolve endpoints, in each process's memory: their keys carry the
    # model's revision, so a copy can never be stale, and a hit costs no round trip.
    "resolve": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "resolve",
        "OPTIONS": {"MAX_ENTRIES": 1000},  # a few KB each: at most a few MB per process
    },
}

# E-mail goes out through SMTP when EMAIL_HOST is set; without it (`make run`) the worker prints
# each e-mail to its log instead, so nothing waits on a mail server that is not there.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "vetted@localhost")
# Seconds an SMTP connection may wait for the server before the attempt counts as failed.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# The outbox retries a failed e-mail after 1, 2, 4 … minutes (at most an hour apart), and gives
# up after this many attempts: about a day of the SMTP server being unreachable.
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 24)
if EMAIL_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("EMAIL_MAX_ATTEMPTS must be at least 1")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "vetted.api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["vetted.api.auth.TokenScopePermission"],
    "DEFAULT_PAGINATION_CLASS": "vetted.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "vetted.api.schema.ErrorDocumentingSchema",
    "EXCEPTION_HANDLER": "vetted.api.errors.json_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON everywhere; a form body only where files are sent (the version upload says so).
    "DEFAULT_PARSER_CLASSES": ["vetted.api.parsers.StrictJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vetted API",
    "DESCRIPTION": "Register model versions from CI, resolve the version an app should run.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {  # fields of the same name with other choices keep their names
        "KindEnum": "reviews.models.RequestKind",
        "EventEnum": "notifications.models.Event",
        "ConversationKindEnum": "reviews.api.serializers.MESSAGE_KINDS",
        "ConversationEventEnum": "reviews.api.serializers.MESSAGE_EVENTS",
        "RequestStateEnum": "reviews.models.RequestState",
        "CheckStateEnum": "reviews.api.serializers.CHECK_STATES",
        "DatasetKindEnum": "monitoring.models.DatasetKind",
        "EvaluationKindEnum": "monitoring.models.EvaluationKind",
        "RunStatusEnum": "monitoring.models.RunStatus",
    },
}

# Content-Security-Policy: nothing inline, nothing from another origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "vetted.logs.RequestContext"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request"], "formatter": "plain"}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Monitoring, evaluation runs: their own queue (a long evaluation never holds up load checks
# and e-mails), and the sandbox's limits while a stored model predicts on a dataset.
MONITORING_QUEUE = env_str("MONITORING_QUEUE", "monitoring")
EVALUATION_TIMEOUT_SECONDS = env_int("EVALUATION_TIMEOUT_SECONDS", 1800)
EVALUATION_MEMORY_MB = env_int("EVALUATION_MEMORY_MB", 4096)
# Past this many rows to predict, the stored model's predictions fan out across workers in
# slices of at most this many rows (a Celery chord).
EVALUATION_FAN_OUT_ROWS = env_int("EVALUATION_FAN_OUT_ROWS", 500_000)
CELERY_TASK_ROUTES = {
    f"monitoring.tasks.{name}": {"queue": MONITORING_QUEUE}
    for name in ("run_evaluation", "predict_slice", "finish_fanned_out_evaluation")
}
CELERY_BEAT_SCHEDULE["requeue-stalled-evaluations"] = {
    "task": "monitoring.tasks.requeue_stalled_evaluations",
    "schedule": float(LOAD_CHECK_HEARTBEAT_SECONDS),
}

# Monitoring data (issue 13, datasets): an uploaded dataset past this many bytes is refused (413).
DATASET_MAX_BYTES = env_int("DATASET_MAX_BYTES", 500 * 1024**2)
# Monitoring's charts: plotly.js comes from the installed plotly package (monitoring/staticfiles).
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "monitoring.staticfiles.PlotlyFinder",
]
# plotly.js sets two fixed style attributes: a heatmap image's crisp pixels, and an empty one on
# a colour bar's fills. Those exact values, by their hashes, are the only inline styles allowed
# (tests/test_monitoring_pages_assets.py derives them from the bundle).
PLOTLY_STYLE_HASHES = [
    "'sha256-AR/cKIZjWPcPmBUPDA6oti9XBiTbJvz0Cro2J1VzzS8='",  # image-rendering: … pixelated;
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "" (an empty attribute)
]
CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"] += ["'unsafe-hashes'", *PLOTLY_STYLE_HASHES]

# Monitoring: alerts, the monitoring e-mail and /metrics (monitoring/alerts.py, digest.py,
# prometheus.py). /metrics is open when METRICS_TOKEN is empty (a private network's scraper);
# set it and Prometheus sends `Authorization: Bearer <token>` (its `authorization` setting).
METRICS_TOKEN = env_str("METRICS_TOKEN")
# The Chromium (or Chrome) kaleido drives to draw the e-mail's charts; without one the e-mail
# carries tables and links instead.
KALEIDO_BROWSER_PATH = env_str(
    "KALEIDO_BROWSER_PATH",
    os.environ.get("BROWSER_PATH")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else ""),
)
CELERY_IMPORTS = ("monitoring.tasks_watch",)  # beat's monitor and e-mail tasks (not tasks.py)
CELERY_BEAT_SCHEDULE["send-monitoring-digests"] = {
    "task": "monitoring.tasks_watch.send_digests",
    "schedule": 3600.0,
}

"""Settings, read top to bottom in sections; every value comes from the environment.

With no environment at all the portal runs in *embedded* mode: SQLite, a Celery transport that
needs no server (kombu's filesystem transport, with a real worker process), mail to the console.
Setting ``DATABASE_URL``, ``REDIS_URL``/``CELERY_BROKER_URL`` and SMTP variables switches each part
to production without touching code.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

# --- Core -----------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
# Embedded mode (no DATABASE_URL) is a developer's laptop: an insecure key is acceptable there
# and nowhere else. https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
EMBEDDED = not env.str("DATABASE_URL", default="")
if DEBUG or EMBEDDED:
    SECRET_KEY = env.str("SECRET_KEY", default="embedded-mode-insecure-key-change-me")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required: fails loudly when missing
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_htmx",
    "archiveportal",
    "queries",
    "downloads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "archiveportal.urls"
WSGI_APPLICATION = "archiveportal.wsgi.application"
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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/archiveportal
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'archiveportal.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker process write while the web process reads.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Measured on 1M rows (bench/README.md): JIT compilation costs more than it saves on
    # millisecond queries, and on SSDs random reads cost about as much as sequential ones, so
    # the planner should prefer the indexes. https://www.postgresql.org/docs/15/runtime-config-query.html
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = env.str(
        "DATABASE_PG_OPTIONS", default="-c jit=off -c random_page_cost=1.1"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/aq/"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not (DEBUG or EMBEDDED))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Failed logins allowed per account+address in LOGIN_THROTTLE_WINDOW seconds.
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=5)
LOGIN_THROTTLE_WINDOW = env.int("LOGIN_THROTTLE_WINDOW", default=900)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or EMBEDDED
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED

# --- Cache ----------------------------------------------------------------------------------
# Used for login throttling: Redis in production so that every web process sees the same count;
# process memory in embedded mode, which runs a single web process.
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Celery ---------------------------------------------------------------------------------
# Embedded: kombu's filesystem transport (https://docs.celeryq.dev/projects/kombu/en/stable/
# reference/kombu.transport.filesystem.html) lets a real worker process run with no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "control_folder": str(_queue_dir / "control"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
else:
    # A message unacknowledged this long is redelivered; longer than any job's lease.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Late acks: a message is acknowledged only after its task returns, so a worker killed mid-task
# leaves it in the broker; a pool process that dies re-queues its message at once.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-reject-on-worker-lost
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True  # the database, not a result backend, is the record
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "queries.*": {"queue": "searches"},
    "downloads.*": {"queue": "downloads"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# A job's lease is short and renewed by a heartbeat while its worker runs it, so a killed
# worker's job is re-queued within about one lease plus one sweep, not after the whole job's
# possible duration. JOBS_HEARTBEAT_SECONDS must stay well below JOBS_LEASE_SECONDS.
JOBS_LEASE_SECONDS = env.int("JOBS_LEASE_SECONDS", default=30)
JOBS_HEARTBEAT_SECONDS = env.float("JOBS_HEARTBEAT_SECONDS", default=10.0)
JOBS_SWEEP_INTERVAL = env.float("JOBS_SWEEP_INTERVAL", default=15.0)
# A queued row whose message has not been picked up this long is sent again (lost message,
# broker restarted without persistence, dispatch while the broker was down).
JOBS_QUEUED_GRACE_SECONDS = env.int("JOBS_QUEUED_GRACE_SECONDS", default=120)
# Exactly one beat: beat takes this lock at start and exits if another beat holds it. The lock
# lives in Redis (expiring, renewed) with a Redis broker, else in a file lock under DATA_DIR.
JOBS_BEAT_LOCK_SECONDS = env.int("JOBS_BEAT_LOCK_SECONDS", default=30)
JOBS_BEAT_LOCK_FILE = DATA_DIR / "celerybeat.lock"
# The base template's "background work is paused" banner re-checks the broker this often.
JOBS_BROKER_CHECK_SECONDS = env.float("JOBS_BROKER_CHECK_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-jobs": {
        "task": "archiveportal.sweep_jobs",
        "schedule": JOBS_SWEEP_INTERVAL,
    },
    "expire-download-requests": {
        "task": "downloads.expire_requests",
        "schedule": 3600,
    },
}

# --- Mail -----------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp://user:pass@mail.example.org:587/?tls=True, or EMAIL_HOST & friends.
_email_url = env.str("EMAIL_URL", default="")
if _email_url:
    vars().update(env.email_url("EMAIL_URL"))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="archive-portal@localhost")
# Absolute base of links in emails and scripts (the portal cannot know its public address).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# --- Archive --------------------------------------------------------------------------------
ARCHIVE_URL = env.str("ARCHIVE_URL", default="https://almascience.org")
ARCHIVE_TIMEOUT = env.float("ARCHIVE_TIMEOUT", default=60.0)
SAMPLE_ARCHIVE_DIR = BASE_DIR / "queries" / "sample_archive"

# --- App tunables ---------------------------------------------------------------------------
QUERIES_MAX_ROWS = env.int("QUERIES_MAX_ROWS", default=50_000)
QUERIES_PAGE_SIZE = env.int("QUERIES_PAGE_SIZE", default=50)
QUERIES_RESOLVER_ONLINE = env.bool("QUERIES_RESOLVER_ONLINE", default=not EMBEDDED)
# How long a prepared request's script and lists stay downloadable, in hours (they answer 410
# from that instant on; the hourly cleaner only deletes the rows later). The older
# DOWNLOADS_REQUEST_TTL_DAYS is still read as the default.
DOWNLOADS_REQUEST_TTL_HOURS = env.float(
    "DOWNLOADS_REQUEST_TTL_HOURS", default=24 * env.float("DOWNLOADS_REQUEST_TTL_DAYS", default=14)
)
LAB_DATA_ROOT = Path(env.str("LAB_DATA_ROOT", default=str(DATA_DIR / "labdata")))

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"hide_file_names": {"()": "archiveportal.logfilters.HideFileNames"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["hide_file_names"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's own handler bypasses the root one: give it the same filter.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

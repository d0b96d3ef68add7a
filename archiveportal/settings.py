"""Settings, read top to bottom in sections; every value comes from the environment.

With no environment at all the portal runs in *embedded* mode: SQLite, a Celery transport that
needs no server (kombu's filesystem transport, with a real worker process), mail to the console.
Setting ``DATABASE_URL``, ``REDIS_URL``/``CELERY_BROKER_URL`` and SMTP variables switches each part
to production without touching code.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

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
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "archiveportal",
    "queries",
    "downloads",
    "apitokens",
    "vo",
    "harvest",
    "watches",
    "targets",
]

MIDDLEWARE = [
    "archiveportal.middleware.Plain404Middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # NUL bytes and non-object JSON bodies: a 400 naming the field before any view or session.
    "archiveportal.input_guard.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # The member a search's target_list is checked against (targets/access.py says why).
    "targets.access.ReaderMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apitokens.middleware.TokenRefusalMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into a page.
    "axes.middleware.AxesMiddleware",
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
LOGIN_REDIRECT_URL = "queries:search"  # a URL name: Django reverses it
LOGOUT_REDIRECT_URL = "login"
# Database sessions, read on every request as Django's are, through one compiled statement
# (archiveportal/sessions.py says why and what stays the same).
SESSION_ENGINE = "archiveportal.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not (DEBUG or EMBEDDED))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Login throttling: django-axes (https://django-axes.readthedocs.io/en/latest/4_configuration.html)
# counts failures in the database (atomically, under a row lock; SQLite in embedded mode too)
# for every login form, the admin's included, because it hooks authentication itself. A client
# is locked out after LOGIN_THROTTLE_ATTEMPTS failures within LOGIN_THROTTLE_WINDOW seconds
# either for one account from one address, or from one address whatever the account: failures
# from another address never lock a member out. Admins unlock by deleting the attempt in
# /admin/axes/accessattempt/ (or `manage.py axes_reset`).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, its per-request user read compiled once (archiveportal/sessions.py)
    "archiveportal.sessions.PortalModelBackend",
]
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=5)
LOGIN_THROTTLE_WINDOW = env.int("LOGIN_THROTTLE_WINDOW", default=900)
AXES_FAILURE_LIMIT = LOGIN_THROTTLE_ATTEMPTS
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_THROTTLE_WINDOW)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# A success must not clear the per-address count: an attacker with an account of their own
# could otherwise reset it between guesses at someone else's.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "archiveportal.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "archiveportal.auth.client_ip"
# Behind a reverse proxy: the request.META key of the header the proxy sets (e.g.
# HTTP_X_FORWARDED_FOR) and how many proxies append to it. Without it, REMOTE_ADDR decides;
# never set it when clients can reach the portal directly, or they choose their own address.
LOGIN_CLIENT_IP_HEADER = env.str("LOGIN_CLIENT_IP_HEADER", default="")
LOGIN_PROXY_COUNT = env.int("LOGIN_PROXY_COUNT", default=1)

# --- Security headers -----------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security
# HTTPS redirect and HSTS default on when the portal's public address is https and the portal
# is neither embedded nor in DEBUG; each can be set explicitly.
_PRODUCTION_HTTPS = env.str("PORTAL_BASE_URL", default="").startswith("https://") and not (
    DEBUG or EMBEDDED
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_PRODUCTION_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _PRODUCTION_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# "HTTP_X_FORWARDED_PROTO,https" when a TLS-terminating proxy sets that header (and strips it
# from clients); https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
_proxy_ssl = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl) if len(_proxy_ssl) == 2 else None
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp, https://django-csp.readthedocs.io/en/latest/): every
# script is a file under /static/ (htmx is vendored, no inline scripts or handlers), so
# script-src 'self' holds in every mode; CSP_REPORT_ONLY=1 only reports.
_csp = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Styles may be inline: htmx injects its indicator style and the admin sets a few
        # style attributes; scripts, the dangerous part, may not.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The sky view (Aladin Lite, vendored) runs WebAssembly and reads survey tiles from the HiPS
# server QUERIES_SKY_HIPS_URL names: that server, and only it, is added to img-src/connect-src.
QUERIES_SKY_HIPS_URL = env.str(
    "QUERIES_SKY_HIPS_URL", default="https://alasky.cds.unistra.fr/DSS/DSSColor/"
)
_hips_origin = (
    "/".join(QUERIES_SKY_HIPS_URL.split("/")[:3]) if "://" in QUERIES_SKY_HIPS_URL else ""
)
_csp["DIRECTIVES"]["script-src"].append("'wasm-unsafe-eval'")
# ... and fetches its WebAssembly from a data: URL inside aladin.js (without this the view
# stops with "Failed to fetch"; tests/browser/test_pictures_browser.py starts it).
_csp["DIRECTIVES"]["connect-src"].append("data:")
if _hips_origin:
    _csp["DIRECTIVES"]["img-src"].append(_hips_origin)
    _csp["DIRECTIVES"]["connect-src"].append(_hips_origin)
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp
else:
    CONTENT_SECURITY_POLICY = _csp

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
# Redis in production so that every web process shares it; process memory in embedded mode,
# which runs a single web process. (Login throttling keeps its counts in the database.)
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    # Django's Redis backend, reusing its client (archiveportal/cache.py says why). Every use
    # of the cache is best effort (a miss when Redis is unreachable), so a Redis that hangs
    # must not hang a page: calls give up after two seconds.
    "default": {
        "BACKEND": "archiveportal.cache.PortalRedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
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
    "targets.*": {"queue": "searches"},
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
    "prune-mirror-change-log": {
        "task": "queries.prune_change_log",
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

# --- Harvest (harvest/) ---------------------------------------------------------------------
# The archive the mirror follows; `manage.py harvest_archive` and the schedule below fill the
# mirror from its ivoa.obscore. A token for an upstream that wants one (another Archive Portal)
# comes from the environment only and is sent as "Authorization: Token <ARCHIVE_TOKEN>".
HARVEST_ARCHIVE_URL = env.str("HARVEST_ARCHIVE_URL", default="") or ARCHIVE_URL
ARCHIVE_TOKEN = env.str("ARCHIVE_TOKEN", default="")
HARVEST_PAGE_ROWS = env.int("HARVEST_PAGE_ROWS", default=20_000)
HARVEST_MAX_RETRIES = env.int("HARVEST_MAX_RETRIES", default=5)  # upstream outages, per run
HARVEST_LEASE_SECONDS = env.int("HARVEST_LEASE_SECONDS", default=120)
# A full sweep that would delete more than this share of the mirror is refused.
HARVEST_MAX_REMOVED_FRACTION = env.float("HARVEST_MAX_REMOVED_FRACTION", default=0.2)
# Nightly incremental harvest and a weekly full sweep (UTC); off in embedded mode unless asked.
HARVEST_SCHEDULE_ENABLED = env.bool("HARVEST_SCHEDULE_ENABLED", default=not EMBEDDED)
HARVEST_HOUR = env.int("HARVEST_HOUR", default=3)
HARVEST_FULL_WEEKDAY = env.str("HARVEST_FULL_WEEKDAY", default="sun")

if HARVEST_SCHEDULE_ENABLED:
    from celery.schedules import crontab

    CELERY_BEAT_SCHEDULE["harvest-archive"] = {
        "task": "harvest.scheduled_harvest",
        "schedule": crontab(minute=0, hour=HARVEST_HOUR),
        "kwargs": {"mode": "incremental"},
    }
    CELERY_BEAT_SCHEDULE["harvest-archive-full-sweep"] = {
        "task": "harvest.scheduled_harvest",
        "schedule": crontab(minute=30, hour=HARVEST_HOUR, day_of_week=HARVEST_FULL_WEEKDAY),
        "kwargs": {"mode": "full"},
    }

# --- App tunables ---------------------------------------------------------------------------
QUERIES_MAX_ROWS = env.int("QUERIES_MAX_ROWS", default=50_000)
# How long the exact count of a large search is remembered (queries/counts.py: only while the
# mirror is unchanged, so this bounds memory, not staleness). 0: count every time.
QUERIES_COUNT_CACHE_SECONDS = env.int("QUERIES_COUNT_CACHE_SECONDS", default=600)
# Search exports (CSV, TSV, VOTable) stream from a server-side cursor, so they need no cap; set
# one to bound a single download (the response then says X-Result-Truncated). Unset: no cap.
QUERIES_EXPORT_MAX_ROWS = env.int("QUERIES_EXPORT_MAX_ROWS", default=None)
QUERIES_PAGE_SIZE = env.int("QUERIES_PAGE_SIZE", default=50)
# The sky plot draws the page's rows as footprints (all of them while there are at most this
# many) and the rest of the result, up to QUERIES_SKY_MAX_CENTRES rows, as centres.
QUERIES_SKY_MAX_FOOTPRINTS = env.int("QUERIES_SKY_MAX_FOOTPRINTS", default=200)
QUERIES_SKY_MAX_CENTRES = env.int("QUERIES_SKY_MAX_CENTRES", default=1000)
# ... fetched within this many ms (PostgreSQL's statement_timeout), else the plot says they are
# not drawn: the picture stays within the page's budget whatever the filter (bench_pictures.py).
QUERIES_SKY_CONTEXT_MS = env.int("QUERIES_SKY_CONTEXT_MS", default=8)
# Member OUSs a basket may hold (and a whole result may add at once).
DOWNLOADS_BASKET_MAX = env.int("DOWNLOADS_BASKET_MAX", default=5000)
QUERIES_RESOLVER_ONLINE = env.bool("QUERIES_RESOLVER_ONLINE", default=not EMBEDDED)
# The most targets one uploaded target list may hold (each is resolved and searched).
TARGETS_MAX_ROWS = env.int("TARGETS_MAX_ROWS", default=1000)
# How long a prepared request's script and lists stay downloadable, in hours (they answer 410
# from that instant on; the hourly cleaner only deletes the rows later). The older
# DOWNLOADS_REQUEST_TTL_DAYS is still read as the default.
DOWNLOADS_REQUEST_TTL_HOURS = env.float(
    "DOWNLOADS_REQUEST_TTL_HOURS", default=24 * env.float("DOWNLOADS_REQUEST_TTL_DAYS", default=14)
)
LAB_DATA_ROOT = Path(env.str("LAB_DATA_ROOT", default=str(DATA_DIR / "labdata")))
# Who sends /dataPortal/ files once the portal has allowed them: "django" (itself, with Range;
# embedded mode and the tests), "x-accel" (nginx: X-Accel-Redirect to the internal location
# DOWNLOADS_ACCEL_PREFIX, which maps to LAB_DATA_ROOT; deploy/nginx/portal.conf.template) or
# "x-sendfile" (Apache mod_xsendfile, lighttpd). Tar members are always sent by the portal.
# https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_ignore_headers
DOWNLOADS_FILE_SERVING = env.str("DOWNLOADS_FILE_SERVING", default="django")
if DOWNLOADS_FILE_SERVING not in ("django", "x-accel", "x-sendfile"):
    raise ImproperlyConfigured(
        f"DOWNLOADS_FILE_SERVING={DOWNLOADS_FILE_SERVING!r}: use django, x-accel or x-sendfile"
    )
DOWNLOADS_ACCEL_PREFIX = env.str("DOWNLOADS_ACCEL_PREFIX", default="/_protected/labdata/")

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a refused or missing token a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apitokens.authentication.PortalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # TokenScope without a scope refuses tokens: a view accepts one only by declaring its scope.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apitokens.permissions.TokenScope",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The API's OpenAPI 3 schema (/api/schema/) and Swagger UI (/api/docs/), served from the
# sidecar package's files, never a CDN. https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Archive Portal API",
    "DESCRIPTION": (
        "Search the ALMA mirror with ALMA's own parameter names and query syntax, record searches, "
        "and manage data delegations. Authenticate with a session or `Authorization: Token <key>` "
        "(your token: /access/token/)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging --------------------------------------------------------------------------------
# File names under /dataPortal/ may be proprietary: ``HideFileNames`` rewrites them on the loggers
# that log request paths (before any handler, whoever added it) and on every handler here. The
# "django" logger is configured explicitly so that Django's default handlers (an unfiltered
# console in DEBUG, mail_admins otherwise) are replaced by these filtered ones.
# https://docs.djangoproject.com/en/5.2/ref/logging/#default-logging-configuration
_HIDE = ["hide_file_names"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "hide_file_names": {"()": "archiveportal.logfilters.HideFileNames"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": _HIDE},
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", *_HIDE],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {
            "handlers": ["console", "mail_admins"],
            "level": env.str("LOG_LEVEL", default="INFO"),
            "propagate": False,
            "filters": _HIDE,
        },
        "django.request": {"filters": _HIDE},
        "django.security": {"filters": _HIDE},
        "django.security.csrf": {"filters": _HIDE},
        "django.db.backends": {"level": "WARNING"},
        # runserver's own records: the same filter, and its handler only (no duplicates).
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": _HIDE,
        },
    },
}

# --- VO services (TAP) ----------------------------------------------------------------------
# Rows a TAP query returns when it names no MAXREC, and the most it may ask for.
VO_TAP_MAXREC_DEFAULT = env.int("VO_TAP_MAXREC_DEFAULT", default=10_000)
VO_TAP_MAXREC_LIMIT = env.int("VO_TAP_MAXREC_LIMIT", default=1_000_000)
# A statement running longer than this is cancelled (PostgreSQL's statement_timeout).
VO_TAP_STATEMENT_TIMEOUT_MS = env.int("VO_TAP_STATEMENT_TIMEOUT_MS", default=60_000)
# Let anonymous clients read metadata (TAP, and DataLink/SIA of public data), as ALMA does.
VO_ANONYMOUS_METADATA = env.bool("VO_ANONYMOUS_METADATA", default=False)
# Async jobs (UWS): where results are written, how long a job and its result are kept, and the
# longest a job may run (its EXECUTIONDURATION can only be lowered).
VO_TAP_RESULTS_DIR = Path(env.str("VO_TAP_RESULTS_DIR", default=str(DATA_DIR / "tap-results")))
VO_TAP_RETENTION_SECONDS = env.int("VO_TAP_RETENTION_SECONDS", default=3 * 24 * 3600)
VO_TAP_EXECUTION_DURATION = env.int("VO_TAP_EXECUTION_DURATION", default=3600)
CELERY_BEAT_SCHEDULE["destroy-expired-tap-jobs"] = {
    "task": "vo.destroy_expired_jobs",
    "schedule": 600,
}

# --- Watches, digests and the release calendar ------------------------------------------------
# Digests of lab-wide watches an administrator sends to the lab (e.g. alma-lab@example.org);
# empty: such watches cannot be set.
WATCHES_LIST_ADDRESS = env.str("WATCHES_LIST_ADDRESS", default="")
# Evaluation also runs after every harvest; the schedule catches up after an outage and closes
# the daily and weekly periods.
CELERY_BEAT_SCHEDULE["evaluate-watches"] = {
    "task": "watches.evaluate",
    "schedule": env.int("WATCHES_EVALUATE_SECONDS", default=900),
}

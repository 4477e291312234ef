"""EmoReview settings: one module, fed by the environment (see README, "Configuration")."""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from annotator.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_path,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("EMOREVIEW_DATA_DIR", BASE_DIR / "data")
ENVIRONMENT = env_str("EMOREVIEW_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured(f"EMOREVIEW_ENV={ENVIRONMENT!r}: use development or production")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_optional("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when EMOREVIEW_ENV=production")
    # Development: a random key kept in the data directory, so logins survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "annotator",
    "review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "review.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Rows a request reads more than once (a sample's dataset and taxonomy), read once.
    "review.request_memo.RequestMemoMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # NUL in a query string or form body: 400 naming the field, before any view queries with it.
    "review.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it needs request.htmx. Errors for htmx requests are short text, never a page.
    "review.middleware.HtmxErrorMiddleware",
]
# A stale security token (signed in or out in another tab) is told as such, not a bare 403.
CSRF_FAILURE_VIEW = "review.http.csrf_failure"

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"
ASGI_APPLICATION = "annotator.asgi.application"

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

_default_db = f"sqlite:///{DATA_DIR / 'emoreview.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _default_db))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker thread writes; IMMEDIATE avoids
    # "database is locked" upgrades in write transactions.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, and a statement run twice on a connection is prepared:
    # PostgreSQL then parses a page's fixed-shape reads once per connection.
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": env_bool("DB_SERVER_SIDE_BINDING", True),
        "prepare_threshold": env_int("DB_PREPARE_THRESHOLD", 2),
        # JIT compiles a query whose estimated cost is high, even when a LIMIT stops it after
        # a few rows: "Next" at 219K samples spent 660 ms compiling a 3 ms query.
        # `auto`: a prepared read reuses a generic plan after five runs (20-30% less database
        # CPU a page); an import plans each statement with its values instead
        # (annotator.importers.statistics.plan_with_values).
        "options": f"-c jit=off -c plan_cache_mode={env_str('DB_PLAN_CACHE_MODE', 'auto')}",
    }
# Kept across requests and tasks: opening SQLite with its PRAGMAs costs ~1 ms, a click's
# round trip opens two (web and worker).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's model backend and database sessions, their per-request reads prepared once a process.
AUTHENTICATION_BACKENDS = ["review.auth_backend.UserBackend"]
SESSION_ENGINE = "review.sessions"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "review:queue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
WHITENOISE_USE_FINDERS = True  # the demo serves static/ without collectstatic
# Directories an admin may name as --images-root / in the upload form; image_path values in an
# import must resolve inside the chosen root.
IMPORT_ROOTS = [
    Path(p).resolve()
    for p in env_list(
        "IMPORT_ROOTS",
        [str(DATA_DIR / "images"), str(BASE_DIR / "annotator" / "demo")],
    )
]
# Pillow's decompression-bomb guard: images over this many pixels are refused at import.
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
# Import bounds: one JSONL line, one free-text field (description, critic reasoning), one upload.
MAX_IMPORT_LINE_BYTES = env_int("MAX_IMPORT_LINE_BYTES", 1024 * 1024)
MAX_IMPORT_TEXT_CHARS = env_int("MAX_IMPORT_TEXT_CHARS", 20_000)
MAX_IMPORT_UPLOAD_BYTES = env_int("MAX_IMPORT_UPLOAD_BYTES", 512 * 1024 * 1024)

# Celery: unset broker = tasks run in-process (the embedded default needs no Redis).
CELERY_BROKER_URL = env_optional("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_optional("CELERY_RESULT_BACKEND")
# Connecting to an unreachable broker gives up after this many seconds (redis' own default is
# to wait forever): a click is then kept in the database and sent again when the broker answers
# (review/services/mask_dispatch.py), instead of hanging the request.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
}
# One retry when publishing fails (Celery's default is three): a request gives up within seconds.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Celery's Django fixup closes the database connection before and after every task unless this
# is set: a new PostgreSQL connection per task. It now closes them every 2N tasks, and
# annotator/celery.py drops old or broken ones before each task as Django does per request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# Redis redelivers a message nobody acked after this many seconds (kombu's default, 3,600 s,
# left a killed solo worker's task waiting an hour). Above the longest wait a message may
# legitimately have: a retry's countdown (Retry-After, at most 600 s) plus a unit's lease;
# a dead worker's unit comes back sooner through the database (its lease lapses).
BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", 900)
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = BROKER_VISIBILITY_TIMEOUT
# A pipeline unit's claim lasts this long and is renewed while it runs (every quarter of it);
# a unit whose worker died is retaken once its lease lapses.
PIPELINE_UNIT_LEASE_SECONDS = env_int("PIPELINE_UNIT_LEASE_SECONDS", 120)
# How often stuck units are looked for and sent again (Celery beat; the progress page too).
PIPELINE_RESEND_SECONDS = env_int("PIPELINE_RESEND_SECONDS", 30)
# How often batch mode submits staged requests and polls the provider's batches (Celery beat).
PIPELINE_BATCH_POLL_SECONDS = env_int("PIPELINE_BATCH_POLL_SECONDS", 30)
# A pending unit sent this long ago whose queue is empty lost its message: sent again.
PIPELINE_RESEND_SENT_AFTER_SECONDS = env_int(
    "PIPELINE_RESEND_SENT_AFTER_SECONDS", BROKER_VISIBILITY_TIMEOUT + 60
)
# Model-stage units (annotate, critic) go to the workers this many to a task, claimed, called
# (on up to PIPELINE_CHUNK_THREADS threads a process) and recorded together; 1: one a task.
PIPELINE_CHUNK_UNITS = env_int("PIPELINE_CHUNK_UNITS", 16)
PIPELINE_CHUNK_THREADS = env_int("PIPELINE_CHUNK_THREADS", 8)
# The Runs page takes a pipeline config only from these directories (or as an upload).
PIPELINE_CONFIG_DIRS = [
    Path(p).resolve() for p in env_list("PIPELINE_CONFIG_DIRS", [str(DATA_DIR / "pipelines")])
]
PIPELINE_CONFIG_MAX_BYTES = env_int("PIPELINE_CONFIG_MAX_BYTES", 256 * 1024)
# Workers write a heartbeat row this often; /healthz wants one seen within HEALTH_WORKER_SECONDS.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 15)
HEALTH_WORKER_SECONDS = env_int("HEALTH_WORKER_SECONDS", 60)

SESSION_COOKIE_SECURE = PRODUCTION and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS only in production (unless SECURE_COOKIES=false: plain HTTP): HSTS and a redirect from
# http. Behind a proxy that terminates TLS, BEHIND_TLS_PROXY=1 trusts its X-Forwarded-Proto
# (only when the proxy sets that header itself) so requests it got over https count as such.
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]  # compose healthchecks call it over plain http
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if SESSION_COOKIE_SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading binds the domain to HTTPS in browsers for months: the operator's call, so
# check --deploy's W021 ("not preloaded") is silenced unless SECURE_HSTS_PRELOAD is set.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# review/csp.py sets this policy on every response; "nonce" is the response's own nonce (the
# <style> with a sample's layout values). CSP_REPORT_ONLY=1 only reports violations.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "nonce"],
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", False)

# Sign-in throttling (login page, /api/token/): this many wrong passwords for one username from
# one address, then refused for the rest of the window, even with the right password.
SIGN_IN_MAX_FAILURES = env_int("SIGN_IN_MAX_FAILURES", 10)
SIGN_IN_WINDOW_SECONDS = env_int("SIGN_IN_WINDOW_SECONDS", 900)
# CACHE_URL=redis://… shares throttle counts (and cached audit figures) between web processes.
_cache_url = env_optional("CACHE_URL")
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
        }
    }
# The OpenAPI schema and /api/docs/ need a signed-in person unless this opens them.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies: at most 32 levels deep (a 100,000-deep body was a RecursionError, 500).
    "DEFAULT_PARSER_CLASSES": [
        "review.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # /api/token/ requests per client address, right or wrong (failures: SIGN_IN_MAX_FAILURES).
    "DEFAULT_THROTTLE_RATES": {"token": env_str("TOKEN_RATE", "30/min")},
    # Proxies in front that append to X-Forwarded-For (0: the client is REMOTE_ADDR).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EmoReview API",
    "DESCRIPTION": "The review queue, leases, answers, adjudication and history. Token auth: "
    "POST username and password to /api/token/, then send `Authorization: Token <key>`.",
    "VERSION": "1",
    # /api/docs/ serves Swagger UI from static/vendor/swagger-ui (no CDN); no online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "SampleStatusEnum": "annotator.models.Sample.Status",
        "LeaseStatusEnum": "review.models.Assignment.Status",
        "LeaseKindEnum": "review.models.Assignment.Kind",
        "ExportKindEnum": "review.models.ExportJob.Kind",
    },
}

# Review queue
QUEUE_PAGE_SIZE = env_int("QUEUE_PAGE_SIZE", 25)
EXPORT_BATCH_SIZE = env_int("EXPORT_BATCH_SIZE", 2000)
# Export jobs (review/services/export_jobs.py): files under EXPORT_ROOT/<job id>/; a worker's
# claim on a job lasts EXPORT_CLAIM_LEASE_SECONDS, renewed while it writes (a killed worker's job
# is written again by another once it lapses; beat looks every EXPORT_RESEND_SECONDS).
EXPORT_ROOT = env_path("EXPORT_ROOT", DATA_DIR / "exports")
EXPORT_CLAIM_LEASE_SECONDS = env_float("EXPORT_CLAIM_LEASE_SECONDS", 60.0)
EXPORT_RESEND_SECONDS = env_float("EXPORT_RESEND_SECONDS", 30.0)
HUMAN_CHECK_SHARE = env_float("HUMAN_CHECK_SHARE", 0.0)
# Latent-class consensus (review/services/latent_jobs.py): a fit's claim lasts
# CONSENSUS_FIT_LEASE_SECONDS; beat looks every CONSENSUS_REFIT_CHECK_SECONDS and refits a dataset
# people answered in since its last fit, at most every CONSENSUS_REFIT_MINUTES.
CONSENSUS_FIT_LEASE_SECONDS = env_float("CONSENSUS_FIT_LEASE_SECONDS", 900.0)
CONSENSUS_REFIT_MINUTES = env_float("CONSENSUS_REFIT_MINUTES", 15.0)
CONSENSUS_REFIT_CHECK_SECONDS = env_float("CONSENSUS_REFIT_CHECK_SECONDS", 60.0)
# Beat analyses the tables changed past autovacuum's thresholds this often, whether or not
# autovacuum runs (annotator/services/planner_statistics.py).
STATISTICS_CHECK_SECONDS = env_float("STATISTICS_CHECK_SECONDS", 60.0)
# Audit dashboard: how long computed figures are kept, and how long stale ones are served
# while people keep annotating (every answer changes the tables' fingerprint).
AUDIT_CACHE_SECONDS = env_int("AUDIT_CACHE_SECONDS", 600)
AUDIT_STALE_SECONDS = env_int("AUDIT_STALE_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Segmentation (click-to-refine masks; docs/ml-stack.md).
# SEGMENTER: "auto" = sam when SAM_CHECKPOINT is set, else grabcut (no weights needed).
SEGMENTER = env_str("SEGMENTER", "auto")
# SAM's prompt decoder: "auto" = onnxruntime on a CPU device when it is installed (faster there,
# docs/performance.md), torch on a GPU; or "torch" / "onnx". SEGMENTER=sam-onnx forces "onnx".
SAM_DECODER = env_str("SAM_DECODER", "auto")
_sam_checkpoint = env_optional("SAM_CHECKPOINT")
SAM_CHECKPOINT = Path(_sam_checkpoint).expanduser().resolve() if _sam_checkpoint else None
SAM_MODEL_TYPE = env_str("SAM_MODEL_TYPE", "vit_b")  # vit_b | vit_l | vit_h, as the checkpoint
SAM_DEVICE = env_str("SAM_DEVICE", "auto")  # auto = cuda when available, else cpu
# "" = files under DATA_DIR/embeddings; file:///dir; redis://host:port/db (shared by workers).
EMBEDDING_CACHE_URL = env_str("EMBEDDING_CACHE_URL", "")
EMBEDDING_CACHE_MAX_BYTES = env_int("EMBEDDING_CACHE_MAX_BYTES", 2 * 1024**3)

# Click-to-refine masks (review/services/masks.py, docs/ml-stack.md).
# Samples after the open one whose embeddings are prefetched on the gpu queue.
MASK_PREFETCH_COUNT = env_int("MASK_PREFETCH_COUNT", 3)
# How long a click's response (and each poll) waits for the worker before answering "pending".
MASK_WAIT_SECONDS = env_float("MASK_WAIT_SECONDS", 2.0)
# A worker's claim on an edit lasts this long and is renewed while it computes (every third
# of it); a claim its worker stopped renewing (killed) is taken over, and the edit re-sent.
MASK_CLAIM_LEASE_SECONDS = env_float("MASK_CLAIM_LEASE_SECONDS", 20.0)
# How often Celery beat sends again the edits stuck past their lease or never taken by the broker
# (review.resend_stuck_mask_edits; a waiting page's polls do it for their own edit too).
MASK_RESEND_SECONDS = env_float("MASK_RESEND_SECONDS", 5.0)
# Segmentation works on a copy of the image whose long side is at most this (SAM resizes to
# 1024 anyway); points are scaled in, masks scaled back to the image's size.
MASK_WORK_MAX_SIDE = env_int("MASK_WORK_MAX_SIDE", 2048)
# Prefetch and box-to-mask tasks when a sample page opens; off without a broker, where they
# would run inside the page request.
MASK_BACKGROUND_TASKS = env_bool("MASK_BACKGROUND_TASKS", CELERY_BROKER_URL is not None)

"""Django settings. Every value that the environment sets comes from :mod:`server.config`
(one typed field per variable, checked at start-up; README "Configuration"); this module reads
no environment variable itself.
"""
from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from server.common.secret_key import load_or_create as load_or_create_secret_key
from server.config import load as load_config
from server.platform.storage_settings import storages as storages_setting

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG = load_config()  # raises ConfigurationError naming the variable when a value is bad

# Debug mode only when a developer asks for it (DJANGO_DEBUG=1); `make run` does not.
DEBUG = CONFIG.debug
# DJANGO_SECRET_KEY, else a key generated once and kept in DAWN_SECRET_KEY_FILE (mode 0600).
SECRET_KEY = CONFIG.secret_key or load_or_create_secret_key(CONFIG.secret_key_file)
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "knox",  # expiring API tokens stored hashed (server/accounts)
    "axes",  # login failure tracking and lockout (server/accounts/lockout.py)
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "server.accounts",
    "server.species",
    "server.recordings",
    "server.observations",
    "server.realtime",
    "server.modelregistry",
    "server.federated",
    "server.game",
    "server.soundscapes",
    "server.maps",
]
# Apps that contribute Celery beat entries (``<app>/schedule.py: BEAT_SCHEDULE``) and websocket
# routes (``<app>/routing.py: websocket_urlpatterns``) and API routes (``<app>/urls.py``).
DAWN_APPS = [a.rsplit(".", 1)[1] for a in INSTALLED_APPS if a.startswith("server.")]

MIDDLEWARE = [
    "server.common.api_json_errors.ApiJsonErrorsMiddleware",  # every /api/ error as JSON, NUL refused
    "server.common.middleware.UploadSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # a locked-out login answers server.accounts.lockout.lockout_response
]

ROOT_URLCONF = "server.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
ASGI_APPLICATION = "server.asgi.application"
# Threads per web process that run HTTP requests (server/platform/wsgi_bridge.py). Under the GIL a few
# are enough to overlap database and disk waits; more only add contention.
HTTP_THREADS = CONFIG.http_threads
WSGI_APPLICATION = None

DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, engine="django.contrib.gis.db.backends.postgis")}
# Parallel test runs (several checkouts or helpers on one machine) each need their own test DB.
if CONFIG.test_db_name:
    DATABASES["default"]["TEST"] = {"NAME": CONFIG.test_db_name}
# Without a pool (and with DAWN_CONN_MAX_AGE 0) each request opens a new PostgreSQL connection and
# closes it at its end; psycopg's pool hands out open connections instead (docs/performance.md).
# Django's own cursors inline their parameters and never prepare; a prepare threshold lets the few
# queries run on a server-binding cursor (vector tiles: server/maps/tiles.py) be prepared per connection.
DATABASES["default"]["OPTIONS"] = {"prepare_threshold": 5}
DB_POOL_MAX = CONFIG.db_pool_max  # per process: Django's pool, and the public tiles' own
if CONFIG.db_pool:
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX, "timeout": 10}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = CONFIG.conn_max_age
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# GDAL 3.6 (Debian 12) cannot block network access in spatial refs; we never load user-supplied SRS.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# --- researchers' web map: scripts/build_webmap.sh builds it into webmap/dist ---
STATICFILES_DIRS = [("webmap", BASE_DIR / "webmap" / "dist")]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = CONFIG.media_root
# every file the server keeps: storages["media"] (server/platform/storage.py), on MEDIA_ROOT or S3 (DAWN_STORAGE)
STORAGES = storages_setting(CONFIG)

REDIS_URL = CONFIG.redis_url

# --- uploads and audio limits ----------------------------------------------------------------
MAX_UPLOAD_BYTES = int(CONFIG.max_upload_mb * 1024 * 1024)
MAX_AUDIO_SECONDS = CONFIG.max_audio_seconds
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # non-file form fields
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CLASSIFIER_MODEL_PATH = CONFIG.model_path
VERIFIER = CONFIG.verifier
VERIFIER_PATH = CONFIG.verifier_path
FAULT_ANALYSIS_DELAY_S = CONFIG.fault_analysis_delay_s  # fault tests only (server/recordings/analysis.py)
# Recording session tokens (anti-cheat): the take must start within this many seconds of the token's
# issue, and the upload may come this long after (offline queues).
RECORDING_TOKEN_TTL_S = CONFIG.recording_token_ttl_s
RECORDING_TOKEN_UPLOAD_TTL_S = CONFIG.recording_token_upload_ttl_s

# --- sign-in: tokens, lockout, client addresses (server/accounts/README.md) ---------------------
# Reverse proxies in front of the web process that append to X-Forwarded-For. 0: the header is
# ignored and the peer address is the client. Feeds DRF's throttles (NUM_PROXIES) and django-axes
# (AXES_CLIENT_IP_CALLABLE), so both see the same client address.
TRUSTED_PROXIES = CONFIG.trusted_proxies
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins
                           "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = CONFIG.login_failure_limit
AXES_COOLOFF_TIME = timedelta(minutes=CONFIG.login_cooloff_minutes)
# each listed parameter counts on its own: an account locks whatever addresses try it, an address
# locks whatever accounts it tries
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "server.accounts.client_address.client_ip"
AXES_LOCKOUT_CALLABLE = "server.accounts.lockout.lockout_response"
# a success does not clear failures: one's own account must not reset an address's count
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # failures are kept for the lockout; successful logins are not recorded
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=CONFIG.token_ttl_days),
    "AUTO_REFRESH": True,  # each use moves the expiry to now + TTL (written at most once a minute)
    "AUTO_REFRESH_MAX_TTL": timedelta(days=CONFIG.token_max_ttl_days),
    "TOKEN_PREFIX": "dawn_",  # makes tokens recognisable to the log redaction (server/common/log_redaction.py)
    "AUTH_HEADER_PREFIX": "Token",
}
# The browser signs in with a session (server/accounts/views.py SessionView): HttpOnly cookie, SameSite=Lax,
# Secure unless DAWN_SECURE_COOKIES=0, living as long as an unused API token; CSRF on unsafe methods (the
# csrftoken cookie is read by the web map's script and sent back as X-CSRFToken).
SESSION_COOKIE_AGE = int(CONFIG.token_ttl_days * 86400)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CONFIG.secure_cookies
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = CONFIG.secure_cookies

# --- browser security headers (django-csp; SecurityMiddleware) --------------------------------
# One policy for the web map (/map/: MapLibre runs its workers from blob: URLs and draws data:/blob:
# images), Swagger UI (/api/docs/: sidecar assets, its init script served as a file) and the admin.
# Styles may be inline (Swagger UI and the admin set style attributes); scripts come only from here.
# A deployment's basemap (DAWN_MAP_STYLE_URL, DAWN_MAP_BASEMAP_URL) is fetched from its own origin.
_MAP_ORIGINS = sorted({f"{u.scheme}://{u.netloc}" for u in map(urlsplit, (CONFIG.map_style_url, CONFIG.map_basemap_url))
                       if u.scheme in ("http", "https") and u.netloc and "{" not in u.netloc})
CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:", *_MAP_ORIGINS], "font-src": ["'self'", "data:"],
    "worker-src": ["'self'", "blob:"], "connect-src": ["'self'", *_MAP_ORIGINS], "media-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"], "form-action": ["'self'"], "frame-ancestors": ["'none'"],
}}
# HSTS on HTTPS responses outside debug mode (DAWN_HSTS_SECONDS, default one year; 0 turns it off).
SECURE_HSTS_SECONDS = 0 if DEBUG else CONFIG.hsts_seconds

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "server.accounts.authentication.TokenAuthentication",  # knox's
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["server.common.parsers.StrictJSONParser", "server.common.parsers.StrictFormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "server.common.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # every rate limit is a scope (server/platform/throttling.py): 429 throttled with Retry-After
    "DEFAULT_THROTTLE_CLASSES": ["server.platform.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "auth": CONFIG.auth_rate,  # login and register, per client address
        "recording_session": "240/hour",  # recording session tokens, per player
        "identification": "200/hour",  # identifications and data-quality votes, per player
        "quiz": "60/hour",  # quizzes started, per player
        "game_write": "120/hour",  # hunts, time-travel check-ins, adoptions, quests, teams, per player
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # client address for throttles = the entry DAWN_TRUSTED_PROXIES hops from the right of
    # X-Forwarded-For; 0: REMOTE_ADDR only (see TRUSTED_PROXIES below)
    "NUM_PROXIES": TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dawn Chorus API",
    "DESCRIPTION": "Record, identify and map the sounds of a city. Errors are "
                   '{"error": {"code", "message", "fields"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # every operation's 4xx documented with the error contract (server/common/openapi.py)
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "server.common.openapi.document_errors"],
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": "dawn", "TIMEOUT": 300}}

# --- realtime --------------------------------------------------------------------------------
# redis-py >= 8 times out socket reads after 5 s, exactly channels-redis' BZPOPMIN wait, which would
# kill every websocket's receive loop after ~5 s idle; the read timeout must exceed that wait.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                              "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30,
                                                    "max_connections": 2000}],
                                         "prefix": "dawn:channels"}}}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = CONFIG.celery_broker_url or REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # an unacknowledged task (worker killed) is redelivered after this many seconds
    "visibility_timeout": CONFIG.visibility_timeout,
    "socket_connect_timeout": 2,
    "unacked_restore_interval": CONFIG.unacked_restore_interval,
    "unacked_restore_throttle": CONFIG.unacked_restore_throttle,
}
CELERY_TASK_DEFAULT_QUEUE = CONFIG.celery_queue
SWEEP_AFTER_SECONDS = CONFIG.sweep_after_seconds
# blobs under MEDIA_ROOT/audio/ that no recording references are swept once older than this
ORPHAN_BLOB_GRACE_SECONDS = CONFIG.orphan_blob_grace_seconds
# a data-quality metric turns an observation casual only with this many "no" votes (and more "no" than "yes")
DQA_MIN_VOTES_AGAINST = CONFIG.dqa_min_votes_against
# --- maps, federated learning, demo users ---
MAP_TILE_CACHE = CONFIG.map_tile_cache  # False: no Redis tile cache (server/maps/generation.py)
MAP_BASEMAP_URL = CONFIG.map_basemap_url  # "" : the web map's bundled offline basemap
MAP_STYLE_URL = CONFIG.map_style_url  # "" : no deployment style (the offline basemap, or MAP_BASEMAP_URL)
FL_VALIDATION_MANIFEST = CONFIG.fl_validation_manifest
FL_HOLDOUT_MANIFEST = CONFIG.fl_holdout_manifest
DEMO_PASSWORD = CONFIG.demo_password
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-recordings": {"task": "recordings.sweep_stuck", "schedule": timedelta(seconds=30)},
}
for _app in DAWN_APPS:  # each app may add its periodic tasks in <app>/schedule.py
    if (BASE_DIR / "server" / _app / "schedule.py").exists():
        CELERY_BEAT_SCHEDULE.update(importlib.import_module(f"server.{_app}.schedule").BEAT_SCHEDULE)
CELERY_TIMEZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # every handler redacts token-shaped text (server/common/log_redaction.py; uvicorn's and
    # Celery's own handlers get the same filter in server/asgi.py and server/celery.py)
    "filters": {"redact_tokens": {"()": "server.common.log_redaction.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {"django.request": {"level": "ERROR"}},
}

"""The server's configuration: every environment variable the server reads, in one place.

:class:`Config` holds one typed field per variable; each field's metadata names the variable,
its default as text (parsed like a value from the environment; ``None``: unset) and a one-line
meaning. :func:`load` reads and checks them all and raises :class:`ConfigurationError`, naming
the variable, on the first bad value, so a mistyped setting stops the process at start-up.
``server/settings.py`` turns a :class:`Config` into Django settings; every other server module
reads ``django.conf.settings``. The README's "Configuration" table lists the same variables with
the same defaults (checked by ``tests/server/test_configuration.py``).

Imports only the standard library and Django's exceptions, because it runs before Django is
configured. Relative paths are taken from the repository root. An empty variable counts as unset.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from django.core.exceptions import ImproperlyConfigured

REPO_ROOT = Path(__file__).resolve().parent.parent
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
RATE_RE = re.compile(r"^\d+/[smhd][a-z]*$")  # DRF's rate: a count, then a period named by its first letter
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# the value types a field may have (each also ``| None``), as the README's table names them
TYPE_LABELS: dict[type, str] = {bool: "yes/no", int: "integer", float: "number", Path: "path",
                                tuple: "list", str: "text"}


class ConfigurationError(ImproperlyConfigured):
    """A variable's value cannot be used; the message names the variable and what it takes."""


def env(name: str, default: str | None, meaning: str, *, minimum: float | None = None,
        choices: tuple[str, ...] = (), pattern: re.Pattern[str] | None = None, secret: bool = False) -> Any:
    """A :class:`Config` field read from ``name``. ``default`` is the text used when the variable is
    unset or empty (``None``: the field is ``None``); ``minimum``, ``choices`` and ``pattern``
    bound the accepted values. A ``secret`` value (a key, a password, a URL that may hold one) never
    appears in the config's ``repr`` (Django's debug page shows settings) or in an error message."""
    return field(repr=not secret, metadata={"env": name, "default": default, "meaning": meaning, "minimum": minimum,
                                            "choices": choices, "pattern": pattern, "secret": secret})


@dataclass(frozen=True)
class Config:
    """Every server setting that comes from the environment, parsed and checked."""

    # --- Django and the web process ---
    debug: bool = env("DJANGO_DEBUG", "0", "`1` turns on Django's debug mode, for a developer on their own "
                      "machine only; `make run` leaves it off")
    secret_key: str | None = env("DJANGO_SECRET_KEY", None, "unset: a random key generated once into "
                                 "`DAWN_SECRET_KEY_FILE` and reused; set it in production", secret=True)
    secret_key_file: Path = env("DAWN_SECRET_KEY_FILE", "var/secret_key", "where the generated secret key is "
                                "kept (mode 0600)")
    allowed_hosts: tuple[str, ...] = env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver",
                                         "host names the server answers to (comma-separated)")
    hsts_seconds: int = env("DAWN_HSTS_SECONDS", "31536000", "`Strict-Transport-Security` max-age on HTTPS "
                            "responses outside debug mode (`0`: none)", minimum=0)
    http_threads: int = env("DAWN_HTTP_THREADS", "4", "threads per web process that run HTTP requests "
                            "(see *The web process*)", minimum=1)
    malloc_tuning: bool = env("DAWN_MALLOC_TUNING", "1", "keep multi-MB arrays in glibc's heap instead of a "
                              "fresh `mmap` each (`server/platform/malloc_tuning.py`); `0` keeps glibc's defaults")
    log_level: str = env("DAWN_LOG_LEVEL", "INFO", "root log level", choices=LOG_LEVELS)
    # --- database, Redis, files ---
    database_url: str = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dawnchorus",
                            "PostgreSQL with PostGIS (`make run`: found or started by `scripts/services.py`)",
                            secret=True)
    test_db_name: str | None = env("DAWN_TEST_DB_NAME", None, "test runs only: the test database's name "
                                   "(unset: `test_` + the database's name)")
    db_pool: bool = env("DAWN_DB_POOL", "1", "psycopg connection pool per process (`0`: Django's own "
                        "connections, kept `DAWN_CONN_MAX_AGE` seconds)")
    db_pool_max: int = env("DAWN_DB_POOL_MAX", "8", "largest pool per process (Django's and the public tiles')",
                           minimum=1)
    conn_max_age: int = env("DAWN_CONN_MAX_AGE", "0", "seconds a connection is kept without the pool",
                            minimum=0)
    redis_url: str = env("REDIS_URL", "redis://127.0.0.1:6379/0", "Celery broker, channel layer, cache "
                         "(`make run`: found or started by `scripts/services.py`)", secret=True)
    media_root: Path = env("MEDIA_ROOT", "var/media", "the file store's folder in the filesystem mode "
                           "(see *Storage*)")
    storage: str = env("DAWN_STORAGE", "filesystem", "where files live: `filesystem` (under `MEDIA_ROOT`) or "
                       "`s3` (an S3-compatible object store; see *Storage*)", choices=("filesystem", "s3"))
    s3_endpoint_url: str | None = env("DAWN_S3_ENDPOINT_URL", None, "`s3` mode: the store's URL (unset: "
                                      "AWS's default)")
    s3_bucket: str = env("DAWN_S3_BUCKET", "dawn-chorus", "`s3` mode: the private bucket that holds every file")
    s3_access_key: str | None = env("DAWN_S3_ACCESS_KEY", None, "`s3` mode: the access key (unset: boto3's "
                                    "own lookup, e.g. an instance role)", secret=True)
    s3_secret_key: str | None = env("DAWN_S3_SECRET_KEY", None, "`s3` mode: the secret key (unset: boto3's "
                                    "own lookup)", secret=True)
    s3_region: str = env("DAWN_S3_REGION", "us-east-1", "`s3` mode: the region the store expects in request "
                         "signatures")
    # --- uploads and analysis ---
    max_upload_mb: float = env("DAWN_MAX_UPLOAD_MB", "25", "largest accepted audio file, in MB", minimum=0.001)
    max_audio_seconds: float = env("DAWN_MAX_AUDIO_SECONDS", "300", "longest accepted recording", minimum=0.001)
    model_path: Path | None = env("DAWN_MODEL_PATH", None, "pins the analysis to this classifier file (unset: "
                                 "the registry's current field model); `python -m ml` without `--model` reads it "
                                 "too (unset there: `fixtures/models/field.npz`)")
    verifier: str = env("DAWN_VERIFIER", "auto", "`auto`: the verdict combines the field model with the BirdNET "
                        "verifier where the `teachers` extra is installed (else the field model decides alone); "
                        "`off`: the field model alone", choices=("auto", "off"))
    verifier_path: Path | None = env("DAWN_VERIFIER_PATH", None, "the verifier head file (unset: "
                                     "`fixtures/models/verifier.npz`)")
    recording_token_ttl_s: int = env("DAWN_RECORDING_TOKEN_TTL_S", "21600", "a take must start within this many "
                                     "seconds of its recording session token's issue", minimum=1)
    recording_token_upload_ttl_s: int = env("DAWN_RECORDING_TOKEN_UPLOAD_TTL_S", "604800", "how long after the "
                                            "token's issue its upload may come (offline queues)", minimum=1)
    fault_analysis_delay_s: float = env("DAWN_FAULT_ANALYSIS_DELAY_S", "0", "fault tests only: seconds each "
                                        "analysis sleeps, so a worker can be killed mid-task", minimum=0)
    # --- sign-in ---
    token_ttl_days: float = env("DAWN_TOKEN_TTL_DAYS", "10", "API token lifetime after its last use "
                                "(see *Sign-in and tokens*)", minimum=0.001)
    token_max_ttl_days: float = env("DAWN_TOKEN_MAX_TTL_DAYS", "90", "an API token's longest life", minimum=0.001)
    auth_rate: str = env("DAWN_AUTH_RATE", "30/min", "login and register requests per client address "
                         "(`N/s`, `N/min`, `N/hour` or `N/day`)", pattern=RATE_RE)
    login_failure_limit: int = env("DAWN_LOGIN_FAILURE_LIMIT", "10", "failed logins per account or per "
                                   "address before a lockout", minimum=1)
    login_cooloff_minutes: float = env("DAWN_LOGIN_COOLOFF_MINUTES", "15", "length of a lockout", minimum=0)
    secure_cookies: bool = env("DAWN_SECURE_COOKIES", "1", "the browser's session and CSRF cookies are `Secure` "
                               "(sent over HTTPS and to `localhost` only); `0` for plain HTTP to another host")
    trusted_proxies: int = env("DAWN_TRUSTED_PROXIES", "0", "reverse proxies in front of the web process; only "
                               "through them is `X-Forwarded-For` believed (throttles and lockouts)", minimum=0)
    demo_password: str = env("DAWN_DEMO_PASSWORD", "dawnchorus", "password of the users `manage.py "
                             "create_demo_users` makes", secret=True)
    # --- Celery ---
    celery_broker_url: str | None = env("CELERY_BROKER_URL", None, "Celery broker (unset: `REDIS_URL`)",
                                        secret=True)
    celery_queue: str = env("DAWN_CELERY_QUEUE", "dawn", "Celery queue name")
    visibility_timeout: int = env("DAWN_VISIBILITY_TIMEOUT", "300", "seconds before an unacknowledged task is "
                                  "redelivered", minimum=1)
    unacked_restore_interval: int = env("DAWN_UNACKED_RESTORE_INTERVAL", "10", "seconds between a worker's "
                                        "checks for unacknowledged tasks to redeliver", minimum=1)
    unacked_restore_throttle: int = env("DAWN_UNACKED_RESTORE_THROTTLE", "10", "seconds a worker waits after "
                                        "a redelivery check before the next", minimum=0)
    sweep_after_seconds: int = env("DAWN_SWEEP_AFTER_SECONDS", "60", "age at which a `received` recording is "
                                   "re-enqueued", minimum=1)
    orphan_blob_grace_seconds: int = env("DAWN_ORPHAN_BLOB_GRACE_SECONDS", "3600", "age at which an audio file "
                                         "no recording references is deleted by the orphan sweeper (every 15 "
                                         "minutes)", minimum=0)
    # --- game, maps, federated learning ---
    dqa_min_votes_against: int = env("DAWN_DQA_MIN_VOTES_AGAINST", "2", "\"no\" votes a data-quality metric "
                                     "needs (and more \"no\" than \"yes\") to make an observation casual",
                                     minimum=1)
    map_tile_cache: bool = env("DAWN_MAP_TILE_CACHE", "1", "`0` turns the Redis cache of map tiles off "
                               "(ETags and 304s still work)")
    map_basemap_url: str = env("DAWN_MAP_BASEMAP_URL", "", "tile URL template of a basemap server for the web "
                               "map (empty: the bundled offline basemap)")
    map_style_url: str = env("DAWN_MAP_STYLE_URL", "", "URL of a MapLibre style (vector tiles) for the web map's "
                             "basemap; replaces the offline basemap and DAWN_MAP_BASEMAP_URL, and its origin is "
                             "allowed by the Content-Security-Policy (empty: not used)")
    fl_validation_manifest: Path = env("FL_VALIDATION_MANIFEST", "fixtures/audio/manifest.csv", "federated "
                                       "rounds' promotion gate: a labelled manifest")
    fl_holdout_manifest: Path | None = env("FL_HOLDOUT_MANIFEST", None, "federated rounds' optional server "
                                           "step: a labelled manifest (unset: none)")


@dataclass(frozen=True)
class Variable:
    """One row of the configuration table: a variable, its type, its default text and meaning."""

    name: str
    attribute: str
    type: str  # a TYPE_LABELS value
    default: str | None
    meaning: str


def variables() -> tuple[Variable, ...]:
    """Every variable :class:`Config` reads, in declaration order."""
    hints = get_type_hints(Config)
    return tuple(Variable(f.metadata["env"], f.name, _type_label(hints[f.name]), f.metadata["default"],
                          f.metadata["meaning"]) for f in fields(Config))


def load(environ: Mapping[str, str] | None = None) -> Config:
    """A :class:`Config` from ``environ`` (default ``os.environ``); raises :class:`ConfigurationError`
    naming the first variable whose value cannot be used."""
    environ = os.environ if environ is None else environ
    hints = get_type_hints(Config)
    values = {f.name: _parse(f.metadata, hints[f.name], environ.get(f.metadata["env"], "").strip())
              for f in fields(Config)}
    return Config(**values)


def _type_label(hint: Any) -> str:
    return TYPE_LABELS[next(t for t in TYPE_LABELS if _is(hint, t))]


def _parse(meta: Mapping[str, Any], hint: Any, raw: str) -> Any:
    name, text = meta["env"], raw or meta["default"]
    shown = "<hidden>" if meta["secret"] else repr(raw)
    if text is None:
        return None
    kind = next(t for t in TYPE_LABELS if _is(hint, t))
    try:
        value = _convert(kind, text)
    except ValueError as exc:
        raise ConfigurationError(f"{name}={shown}: {exc} ({meta['meaning']}).") from None
    if meta["minimum"] is not None and value < meta["minimum"]:
        raise ConfigurationError(f"{name}={shown}: must be at least {meta['minimum']:g}.")
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigurationError(f"{name}={shown}: use one of {', '.join(meta['choices'])}.")
    if meta["pattern"] is not None and not meta["pattern"].match(value):
        raise ConfigurationError(f"{name}={shown}: not of the form {meta['pattern'].pattern} ({meta['meaning']}).")
    return value


def _is(hint: Any, kind: type) -> bool:
    """Whether ``hint`` is ``kind``, ``kind | None`` or (for ``tuple``) ``tuple[...]``."""
    args = getattr(hint, "__args__", None)
    if hint is kind or getattr(hint, "__origin__", None) is kind:
        return True
    return bool(args) and getattr(hint, "__origin__", None) is not tuple and any(a is kind for a in args)


def _convert(kind: type, text: str) -> Any:
    if kind is bool:
        word = text.lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError("not a yes/no value (1/0, true/false, yes/no, on/off)")
        return word in TRUE_WORDS
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("not a whole number") from None
    if kind is float:
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    if kind is Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path
    if kind is tuple:
        return tuple(item.strip() for item in text.split(",") if item.strip())
    return text

"""The map data's generation counter: ETags and cached tiles are keyed on it.

Every change to observations (saved, deleted, bulk-generated) bumps the counter after commit,
so an unchanged tile is answered ``304`` or from the cache without touching PostGIS, and a
changed data set never serves a stale tile. The counter lives in the Django cache (Redis); if
Redis is flushed it restarts from the clock, so old ETags can never match again.
"""
from __future__ import annotations

import functools
import logging
import os
import time

from django.core.cache import BaseCache, caches
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)
TILE_CACHE_SECONDS = 300


@functools.cache
def shared_cache() -> BaseCache:
    """One client of the default cache per process (redis-py pools are thread-safe). Django's ``cache`` is
    per request context under ASGI, so each tile request would open a new Redis connection (~1.5 ms)."""
    return caches.create_connection("default")


def scope() -> str:
    """The database the counter describes: two databases sharing one Redis never share tiles. (Read from the
    settings, which a test run renames too: touching ``connection`` would build a wrapper per ASGI request.)"""
    return str(connections.settings[DEFAULT_DB_ALIAS]["NAME"])


def generation_key() -> str:
    return f"maps:generation:{scope()}"


def current() -> int:
    key = generation_key()
    cache = shared_cache()
    value = cache.get(key)
    if value is None:
        value = int(time.time() * 1000)
        if not cache.add(key, value, timeout=None):
            value = cache.get(key, value)
    return int(value)


def bump() -> None:
    """Invalidate every tile and ETag (best effort: a Redis outage must not fail a write)."""
    try:
        try:
            shared_cache().incr(generation_key())
        except ValueError:  # not set yet
            current()
            shared_cache().incr(generation_key())
    except Exception as exc:  # pragma: no cover - Redis down
        log.warning("map generation bump failed: %s", exc)


def tile_key(etag: str) -> str:
    return f"maps:tile:{scope()}:{etag}"


def tile_cache_enabled() -> bool:
    """``DAWN_MAP_TILE_CACHE=0`` turns the Redis tile cache off (ETags and 304s still work)."""
    return os.environ.get("DAWN_MAP_TILE_CACHE", "1") != "0"


def get_tile(etag: str) -> bytes | None:
    if not tile_cache_enabled():
        return None
    try:
        return shared_cache().get(tile_key(etag))
    except Exception:  # pragma: no cover - Redis down: render instead
        return None


def put_tile(etag: str, data: bytes) -> None:
    if not tile_cache_enabled():
        return
    try:
        shared_cache().set(tile_key(etag), data, TILE_CACHE_SECONDS)
    except Exception:  # pragma: no cover
        pass

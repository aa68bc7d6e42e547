"""The map data's generation counter: ETags and cached tiles are keyed on it.

Every change to observations (saved, deleted, bulk-generated) bumps the counter after commit,
so an unchanged tile is answered ``304`` or from the cache without touching PostGIS, and a
changed data set never serves a stale tile. The counter lives in Redis (the default cache's server); if
Redis is flushed it restarts from the clock, so old ETags can never match again.
"""
from __future__ import annotations

import functools
import logging
import os
import time

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)
TILE_CACHE_SECONDS = 300
KEY_PREFIX = "dawn:"


@functools.cache
def client() -> redis.Redis:
    """One Redis client per process (redis-py pools are thread-safe), on the default cache's Redis.
    Django's cache is per request context under ASGI and builds a client object per call; tiles are
    stored as raw bytes, not pickled."""
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def scope() -> str:
    """The database the counter describes: two databases sharing one Redis never share tiles. (Read from the
    settings, which a test run renames too: touching ``connection`` would build a wrapper per ASGI request.)"""
    return str(connections.settings[DEFAULT_DB_ALIAS]["NAME"])


def generation_key() -> str:
    return f"{KEY_PREFIX}maps:generation:{scope()}"


def current() -> int:
    key = generation_key()
    value = client().get(key)
    if value is None:  # first use, or Redis was flushed: restart from the clock, above any old ETag
        client().set(key, int(time.time() * 1000), nx=True)
        value = client().get(key)
    return int(value)


def bump() -> None:
    """Invalidate every tile and ETag (best effort: a Redis outage must not fail a write)."""
    try:
        if client().incr(generation_key()) == 1:  # the key was missing: start from the clock instead
            client().set(generation_key(), int(time.time() * 1000))
    except Exception as exc:  # pragma: no cover - Redis down
        log.warning("map generation bump failed: %s", exc)


def tile_key(etag: str) -> str:
    return f"{KEY_PREFIX}maps:tile:{scope()}:{etag}"


def tile_cache_enabled() -> bool:
    """``DAWN_MAP_TILE_CACHE=0`` turns the Redis tile cache off (ETags and 304s still work)."""
    return os.environ.get("DAWN_MAP_TILE_CACHE", "1") != "0"


def get_tile(etag: str) -> bytes | None:
    if not tile_cache_enabled():
        return None
    try:
        return client().get(tile_key(etag))
    except Exception:  # pragma: no cover - Redis down: render instead
        return None


def put_tile(etag: str, data: bytes) -> None:
    if not tile_cache_enabled():
        return
    try:
        client().set(tile_key(etag), data, ex=TILE_CACHE_SECONDS)
    except Exception:  # pragma: no cover
        pass


# The same reads and writes on an asyncio Redis client, for the public tile path (server/maps/public_tiles.py).

async def current_async(aclient) -> int:
    key = generation_key()
    value = await aclient.get(key)
    if value is None:
        await aclient.set(key, int(time.time() * 1000), nx=True)
        value = await aclient.get(key)
    return int(value)


async def get_tile_async(aclient, etag: str) -> bytes | None:
    if not tile_cache_enabled():
        return None
    try:
        return await aclient.get(tile_key(etag))
    except Exception:  # pragma: no cover - Redis down: render instead
        return None


async def put_tile_async(aclient, etag: str, data: bytes) -> None:
    if not tile_cache_enabled():
        return
    try:
        await aclient.set(tile_key(etag), data, ex=TILE_CACHE_SECONDS)
    except Exception:  # pragma: no cover
        pass

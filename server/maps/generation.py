"""The map data's generation counter: ETags and cached tiles are keyed on it.

Every change to observations (saved, deleted, bulk-generated) bumps the counter after commit,
so an unchanged tile is answered ``304`` or from the cache without touching PostGIS, and a
changed data set never serves a stale tile. The counter lives in Redis (the default cache's server); if
Redis is flushed it restarts from the clock, so old ETags can never match again. Each bump also publishes
the new value, which :class:`GenerationFollower` keeps in memory for the public tile path.

A bump happens after its data committed, and a tile is rendered after its generation was read, so a tile is
never older than the generation it is cached and tagged under. A request read just before a bump (or, on
the public path, before the bump's pub/sub message arrived) gets the previous generation, as it would have
a moment earlier; any request after that gets the new one.
"""
from __future__ import annotations

import asyncio
import logging
import time

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from server.platform import redis as platform_redis

log = logging.getLogger(__name__)
TILE_CACHE_SECONDS = 300
KEY_PREFIX = "dawn:"


def client() -> redis.Redis:
    """The process's Redis client for the counter and the tile cache (the platform's factory). Not Django's
    cache: that is per request context under ASGI and builds a client object per call, and tiles are
    stored as raw bytes, not pickled."""
    return platform_redis.client()


def scope() -> str:
    """The database the counter describes: two databases sharing one Redis never share tiles. (Read from the
    settings, which a test run renames too: touching ``connection`` would build a wrapper per ASGI request.)"""
    return str(connections.settings[DEFAULT_DB_ALIAS]["NAME"])


def generation_key() -> str:
    return f"{KEY_PREFIX}maps:generation:{scope()}"


def generation_channel() -> str:
    """The pub/sub channel every bump publishes the new value on."""
    return f"{KEY_PREFIX}maps:generation-bumped:{scope()}"


# INCR and PUBLISH in one step (a missing key restarts from the clock, ARGV[1]): a follower that hears
# the value can never hear it before the counter holds it.
BUMP_SCRIPT = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then
  value = tonumber(ARGV[1])
  redis.call('SET', KEYS[1], value)
end
redis.call('PUBLISH', ARGV[2], value)
return value
"""


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
        client().eval(BUMP_SCRIPT, 1, generation_key(), int(time.time() * 1000), generation_channel())
    except Exception as exc:  # pragma: no cover - Redis down
        log.warning("map generation bump failed: %s", exc)


def tile_key(etag: str) -> str:
    return f"{KEY_PREFIX}maps:tile:{scope()}:{etag}"


def tile_cache_enabled() -> bool:
    """``settings.MAP_TILE_CACHE`` (``DAWN_MAP_TILE_CACHE=0`` turns it off): the Redis tile cache is used
    (ETags and 304s work either way)."""
    return settings.MAP_TILE_CACHE


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


class GenerationFollower:
    """The current generation without a Redis round trip per request, for the public tile path.

    A task on the running loop subscribes to :func:`generation_channel` and keeps the last value it
    heard. Until it is subscribed (and after its connection fails, while it reconnects) and whenever it
    has heard nothing for ``max_age`` seconds, :meth:`current` reads the counter from Redis instead, as
    :func:`current_async` does: a lost subscription costs a round trip, and a lost message at most
    ``max_age`` seconds of the previous generation. Values only grow (a flush restarts the counter from
    the clock), so the larger of two answers is the newer.
    """

    def __init__(self, aclient, *, max_age: float = 2.0, retry_seconds: float = 1.0) -> None:
        self.client = aclient
        self.max_age = max_age
        self.retry_seconds = retry_seconds
        self.value: int | None = None
        self.live = False  # subscribed, and the value read after subscribing
        self._heard_at = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow(), name="map-generation-follower")

    async def stop(self) -> None:
        task, self._task, self.live = self._task, None, False
        # redis-py can swallow a cancellation that lands while its connection is being set up (the task then
        # goes on to listen): cancel until the task has ended
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.1)

    async def current(self) -> int:
        if self.live and self.value is not None and time.monotonic() - self._heard_at < self.max_age:
            return self.value
        return self._heard(await current_async(self.client))

    def _heard(self, value: int) -> int:
        self.value = value if self.value is None else max(self.value, value)
        self._heard_at = time.monotonic()
        return self.value

    async def _follow(self) -> None:
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(generation_channel())
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":  # bumps from now on are heard: read the counter once
                        self._heard(await current_async(self.client))
                        self.live = True
                    elif message["type"] == "message":
                        try:
                            self._heard(int(message["data"]))
                        except (TypeError, ValueError):  # not a bump's value: someone else on the channel
                            log.warning("ignored a map generation message that is not a number: %r",
                                        message["data"][:40])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("map generation subscription lost (%s); reading the counter until it is back", exc)
            finally:
                self.live = False
                await pubsub.aclose()
            await asyncio.sleep(self.retry_seconds)

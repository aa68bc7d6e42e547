"""The one Redis client factory: every part of the server that talks to Redis itself gets its client here.

Contract:

* :func:`client` returns a synchronous ``redis.Redis`` shared by the whole process for one
  (address, options) combination. A redis-py client is thread-safe: it borrows a connection from its
  own pool for each command, and the pool reconnects after a fork (Celery's prefork workers), so one
  object per combination is all a process needs, and no caller builds one per call.
* :func:`async_client` returns a *new* ``redis.asyncio.Redis``: an asyncio client belongs to the event
  loop that first uses it, so the caller keeps it for that loop and closes it (``await c.aclose()``).
* The address defaults to ``settings.REDIS_URL`` (the same server as the cache, the channel layer and,
  unless ``CELERY_BROKER_URL`` says otherwise, the broker).

The libraries that own their connections build their own clients through their public settings:
Django's cache (``CACHES``), channels_redis (``CHANNEL_LAYERS``) and kombu (``CELERY_BROKER_URL``).
"""
from __future__ import annotations

import functools

import redis
import redis.asyncio as aredis
from django.conf import settings


def default_url() -> str:
    return settings.REDIS_URL


@functools.lru_cache(maxsize=32)
def _shared(url: str, decode_responses: bool, name: str | None, timeout_s: float | None) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=decode_responses, client_name=name,
                                socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def client(url: str | None = None, *, decode_responses: bool = False, name: str | None = None,
           timeout_s: float | None = None) -> redis.Redis:
    """The process's client for ``url`` (default: ``settings.REDIS_URL``) with these options.

    ``decode_responses``: replies as ``str`` instead of ``bytes``. ``name``: the connections' name in
    ``CLIENT LIST``. ``timeout_s``: connect and read timeout (``None``: redis-py's defaults).
    """
    return _shared(url or default_url(), decode_responses, name, timeout_s)


def async_client(url: str | None = None, *, decode_responses: bool = False, name: str | None = None) -> aredis.Redis:
    """A new asyncio client for ``url`` (default: ``settings.REDIS_URL``); the caller closes it."""
    return aredis.Redis.from_url(url or default_url(), decode_responses=decode_responses, client_name=name)

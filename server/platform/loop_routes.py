"""Routes answered on the event loop, in front of Django (the bypass of Django's request cycle).

:class:`LoopRouter` is an ASGI HTTP app. For each request it asks its routes, in order, whether one
answers it (:meth:`LoopRoute.match`); the first that does answers on the event loop, on an asyncio
psycopg pool and an asyncio Redis client the router opens on first use and shares between its routes.
Everything else goes to ``fallback`` (Django) unchanged. A feature app supplies the route (the
public vector tiles are ``server.maps.public_tiles``); ``server/asgi.py`` puts the two together, so this
layer imports no app.

What the router guarantees a route:

* a match that raises :class:`~server.common.errors.ApiError` is answered with that error in the API's
  JSON contract (as DRF renders it); any other exception while matching hands the request to Django;
* an answer that raises is logged and answered ``500 server_error``;
* every answer carries the headers Django's security, CSP and clickjacking middleware would add
  (:func:`middleware_headers`), plus the route's ``extra_headers``.

A route answering as a Django view does must do so byte for byte; its tests compare both paths.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aredis
from csp.utils import build_policy
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg_pool import AsyncConnectionPool

from server.common.errors import ApiError, error_body
from server.platform import redis as platform_redis

log = logging.getLogger(__name__)


def has_credentials(headers: list[tuple[bytes, bytes]]) -> bool:
    """An ``Authorization`` header or a session cookie: the request may be a player's or a researcher's."""
    session = settings.SESSION_COOKIE_NAME.encode("latin1") + b"="
    for name, value in headers:
        name = name.lower()
        if name == b"authorization" or (name == b"cookie" and any(
                part.strip().startswith(session) for part in value.split(b";"))):
            return True
    return False


def middleware_headers() -> list[tuple[str, str]]:
    """The headers Django's security, CSP (django-csp) and clickjacking middleware add to every answer
    (plain http)."""
    out = []
    if getattr(settings, "CONTENT_SECURITY_POLICY", None):
        out.append(("Content-Security-Policy", build_policy()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        out.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        out.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        out.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    out.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return out


def connect_kwargs() -> dict:
    """psycopg connection arguments of Django's default database (read per pool: tests rename it), in
    autocommit: a route's read is one statement, and a transaction would cost a ``BEGIN`` before it and
    the pool's ``ROLLBACK`` after it, two more round trips per request."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    params.pop("cursor_factory", None)  # Django's client-side binding cursor: nothing of it could be prepared
    return {**params, "autocommit": True}


@dataclass(frozen=True)
class LoopClients:
    """What a route answers with: the router's database pool and Redis client (one event loop's)."""
    pool: AsyncConnectionPool
    redis: aredis.Redis

    async def fetchone(self, sql: Any, args: Any) -> tuple | None:
        """One prepared, binary read on a pooled connection."""
        async with self.pool.connection() as conn:
            async with conn.cursor(binary=True) as cur:
                await cur.execute(sql, args, prepare=True)
                return await cur.fetchone()


Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


class LoopRoute(Protocol):
    """A request a feature app answers on the event loop."""

    extra_headers: list[tuple[str, str]]  # added to every answer of the route (``Allow`` …)

    def match(self, scope: dict) -> Any | None:
        """The parsed request when this route answers ``scope``, else None (another route or Django
        answers). Raises ``ApiError`` for a request the route refuses as its view would."""

    async def answer(self, scope: dict, request: Any, clients: LoopClients) -> Answer:
        """The answer to a request :meth:`match` accepted."""

    async def open(self, clients: LoopClients) -> None:
        """Start what the route keeps per event loop (called once, with the loop's clients)."""

    async def close(self) -> None:
        """Stop what :meth:`open` started."""


class LoopRouter:
    """ASGI HTTP app: requests a route matches answered here, the rest passed to ``fallback``."""

    def __init__(self, fallback: Callable, routes: list[LoopRoute], *, pool_size: int = 4,
                 name: str = "loop-routes") -> None:
        self.fallback = fallback
        self.routes = routes
        self.pool_size = pool_size
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: LoopClients | None = None
        self._middleware = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in middleware_headers()]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        for route in self.routes if scope.get("type") == "http" else ():
            try:
                request = route.match(scope)
            except ApiError as exc:
                await self._json(send, route, exc.status_code, error_body(exc.error_code, exc.message, exc.fields))
                return
            except Exception:  # nothing sent yet: let Django answer it as it would
                break
            if request is None:
                continue
            try:
                status, headers, body = await route.answer(scope, request, await self._loop_clients())
            except Exception:
                log.exception("%s: %s failed", self.name, scope.get("path"))
                await self._json(send, route, 500, error_body("server_error", "Something went wrong on our side."))
                return
            await self._send(send, route, status, headers, body)
            return
        await self.fallback(scope, receive, send)

    async def _loop_clients(self) -> LoopClients:
        """The pool and Redis client of the running loop (opened on first use, routes opened with them)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests): the old clients belong to a finished one
            self._loop, self._clients = loop, None
        if self._clients is None:
            # open() only starts the pool's connecting tasks: nothing here yields before the clients are
            # stored, so requests arriving together cannot open two pools
            pool = AsyncConnectionPool(kwargs=connect_kwargs(), min_size=1, max_size=self.pool_size,
                                       open=False, name=self.name)
            clients = self._clients = LoopClients(pool, platform_redis.async_client(name=f"dawn-{self.name}"))
            await pool.open()
            for route in self.routes:
                await route.open(clients)
        return self._clients

    async def aclose(self) -> None:
        """Close the routes, the pool and the Redis client (tests; the server's processes just exit)."""
        clients, self._clients = self._clients, None
        if clients is None:
            return
        for route in self.routes:
            await route.close()
        await clients.pool.close()
        await clients.redis.aclose()

    async def _send(self, send: Callable, route: LoopRoute, status: int, headers: dict[str, str],
                    body: bytes) -> None:
        raw = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        raw += [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in route.extra_headers]
        await send({"type": "http.response.start", "status": status, "headers": raw + self._middleware})
        await send({"type": "http.response.body", "body": body})

    async def _json(self, send: Callable, route: LoopRoute, status: int, payload: dict) -> None:
        """As DRF renders an error: compact UTF-8 JSON, varying on Accept."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        await self._send(send, route, status, {"Content-Type": "application/json", "Vary": "Accept"}, body)

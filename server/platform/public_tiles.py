"""Public vector tiles answered on the event loop, in front of Django.

Most tile requests are anonymous, and a map view asks for a dozen at a time. Cluster tiles are the
same for everyone, and a point tile asked without credentials shows public positions only. For
these, :class:`PublicTileRouter` answers them itself instead of Django's request cycle (the hand-over
to a thread, middleware, DRF, a pooled connection per request; figures: ``server/platform/README.md``):
the same address and filter parsing, SQL, ETag, Redis tile cache and headers as
:class:`~server.maps.tile_views.TileView`, on an asyncio psycopg pool with prepared statements, and
the map generation (the ETag's input) as published on Redis pub/sub instead of read per request
(:class:`~server.maps.generation.GenerationFollower`).

Everything else goes to Django unchanged:

* other paths, other methods (HEAD included) and https when HSTS is on;
* a ``species`` filter (resolved through the ORM);
* point tiles asked with credentials (Django decides their audience);
* anything that fails while parsing in a way the view would answer differently.

A test compares both paths' status, headers and bytes for the same requests.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable

import psycopg
import redis.asyncio as aredis
from csp.utils import build_policy
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import QueryDict
from psycopg_pool import AsyncConnectionPool

from server.common.errors import ApiError, error_body
from server.maps import generation
from server.maps.filters import MapFilters
from server.maps.tile_response import MVT_TYPE, TILE_ROUTE, etag_matches, parse_tile_request, tile_etag, tile_headers
from server.maps.tilemath import POINT_ZOOM, Tile
from server.maps.tiles import PUBLIC, mvt_bytes, tile_sql
from server.platform import redis as platform_redis

log = logging.getLogger(__name__)
TILE_PATH = re.compile(f"^/api/v1/{TILE_ROUTE}")
NEEDS_ORM = ("species",)
ALLOW = "GET, HEAD, OPTIONS"  # what DRF's TileView announces


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
    autocommit: a tile is one read-only statement, and a transaction would cost a ``BEGIN`` before it and
    the pool's ``ROLLBACK`` after it, two more round trips per tile."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    params.pop("cursor_factory", None)  # Django's client-side binding cursor: nothing of it could be prepared
    return {**params, "autocommit": True}


async def render_tile_async(conn: psycopg.AsyncConnection, tile: Tile, f: MapFilters) -> bytes:
    """:func:`server.maps.tiles.render_tile` for the public audience, on an asyncio connection."""
    sql, args = tile_sql(tile, f, PUBLIC)
    async with conn.cursor(binary=True) as cur:
        await cur.execute(sql, args, prepare=True)
        return mvt_bytes(await cur.fetchone())


class PublicTileRouter:
    """ASGI HTTP app: public tile requests answered here, the rest passed to ``fallback``."""

    def __init__(self, fallback: Callable, *, pool_size: int = 4) -> None:
        self.fallback = fallback
        self.pool_size = pool_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: AsyncConnectionPool | None = None
        self._redis: aredis.Redis | None = None
        self._follower: generation.GenerationFollower | None = None
        self._extra = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in
                       [("Allow", ALLOW), *middleware_headers()]]

    def route(self, scope: dict) -> tuple[str, str, str, QueryDict] | None:
        """(z, x, y, query) when the request is the fast path's to answer, else None."""
        if scope.get("type") != "http" or scope.get("method") != "GET":
            return None
        if scope.get("scheme") == "https" and settings.SECURE_HSTS_SECONDS:
            return None
        match = TILE_PATH.match(scope.get("path", ""))
        if match is None:
            return None
        try:
            query = QueryDict(scope.get("query_string", b""))
        except Exception:  # too many fields and the like: Django's answer
            return None
        if any(query.get(name) for name in NEEDS_ORM):
            return None
        z = match["z"]
        if int(z) >= POINT_ZOOM and has_credentials(scope.get("headers", [])):
            return None
        return z, match["x"], match["y"], query

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        routed = self.route(scope)
        if routed is None:
            await self.fallback(scope, receive, send)
            return
        try:
            tile, filters = parse_tile_request(*routed)
        except ApiError as exc:
            await self._json(send, exc.status_code, error_body(exc.error_code, exc.message, exc.fields))
            return
        except Exception:  # nothing sent yet: let Django answer it as it would
            await self.fallback(scope, receive, send)
            return
        try:
            status, headers, body = await self._answer(scope, tile, filters)
        except Exception:
            log.exception("public tile %s/%s/%s failed", tile.z, tile.x, tile.y)
            await self._json(send, 500, error_body("server_error", "Something went wrong on our side."))
            return
        await self._send(send, status, headers, body)

    async def _answer(self, scope: dict, tile: Tile, filters: MapFilters) -> tuple[int, dict, bytes]:
        pool, rds, follower = await self._clients()
        etag = tile_etag(tile.z, tile.x, tile.y, filters.canonical(), PUBLIC.key, await follower.current())
        headers = {"Content-Type": MVT_TYPE, **tile_headers(etag, public=True)}
        if_none_match = next((v for k, v in scope.get("headers", []) if k.lower() == b"if-none-match"), b"")
        if etag_matches(if_none_match.decode("latin1"), etag):
            return 304, headers, b""
        data = await generation.get_tile_async(rds, etag)
        if data is None:
            async with pool.connection() as conn:
                data = await render_tile_async(conn, tile, filters)
            await generation.put_tile_async(rds, etag, data)
        return 200, headers, data

    async def _clients(self) -> tuple[AsyncConnectionPool, aredis.Redis, generation.GenerationFollower]:
        """The pool, Redis client and generation follower of the running loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (tests): the old clients belong to a finished one
            self._loop, self._pool, self._redis, self._follower = loop, None, None, None
        if self._pool is None:  # the three are opened and closed together
            # open() only starts the pool's connecting tasks: nothing here yields, so requests arriving
            # together cannot open two pools
            pool = AsyncConnectionPool(kwargs=connect_kwargs(), min_size=1, max_size=self.pool_size,
                                       open=False, name="public-tiles")
            await pool.open()
            self._pool = pool
            self._redis = platform_redis.async_client(name="dawn-public-tiles")
            self._follower = generation.GenerationFollower(self._redis)
            self._follower.start()
        return self._pool, self._redis, self._follower

    async def aclose(self) -> None:
        """Stop the follower, close the pool and the Redis client (tests; the server's processes just exit)."""
        pool, rds, follower = self._pool, self._redis, self._follower
        self._pool = self._redis = self._follower = None
        if follower is not None:
            await follower.stop()
        if pool is not None:
            await pool.close()
        if rds is not None:
            await rds.aclose()

    async def _send(self, send: Callable, status: int, headers: dict[str, str], body: bytes) -> None:
        raw = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw + self._extra})
        await send({"type": "http.response.body", "body": body})

    async def _json(self, send: Callable, status: int, payload: dict) -> None:
        """As DRF renders an error: compact UTF-8 JSON, varying on Accept."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        await self._send(send, status, {"Content-Type": "application/json", "Vary": "Accept"}, body)

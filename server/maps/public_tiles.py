"""Public vector tiles answered on the event loop (a route of ``server.platform.loop_routes``).

Most tile requests are anonymous, and a map view asks for a dozen at a time. Cluster tiles are the
same for everyone, and a point tile asked without credentials shows public positions only. For
these, :class:`PublicTileRoute` answers instead of Django's request cycle (figures:
``server/platform/README.md``): the same address and filter parsing, SQL, ETag, Redis tile cache and
headers as :class:`~server.maps.tile_views.TileView`, with the map generation (the ETag's input) as
published on Redis pub/sub instead of read per request (:class:`~server.maps.generation.GenerationFollower`).

Django answers, unchanged:

* other paths, other methods (HEAD included) and https when HSTS is on;
* a ``species`` filter (resolved through the ORM);
* point tiles asked with credentials (Django decides their audience);
* anything that fails while parsing in a way the view would answer differently.

``tests/server/platform/test_public_tiles.py`` compares both paths' status, headers and bytes for the
same requests.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import QueryDict

from server.platform.loop_routes import Answer, LoopClients, LoopRouter, has_credentials

from . import generation
from .filters import MapFilters
from .tile_response import MVT_TYPE, TILE_ROUTE, etag_matches, parse_tile_request, tile_etag, tile_headers
from .tilemath import POINT_ZOOM, Tile
from .tiles import PUBLIC, mvt_bytes, tile_sql

TILE_PATH = re.compile(f"^/api/v1/{TILE_ROUTE}")
NEEDS_ORM = ("species",)
ALLOW = "GET, HEAD, OPTIONS"  # what DRF's TileView announces


class PublicTileRoute:
    """Anonymous and cluster tile ``GET``s (see the module docstring for which)."""

    extra_headers = [("Allow", ALLOW)]

    def __init__(self) -> None:
        self.follower: generation.GenerationFollower | None = None

    def match(self, scope: dict) -> tuple[Tile, MapFilters] | None:
        """The tile and filters when this path answers; ``ApiError`` for an address or filter the view refuses."""
        if scope.get("method") != "GET":
            return None
        if scope.get("scheme") == "https" and settings.SECURE_HSTS_SECONDS:
            return None
        match = TILE_PATH.match(scope.get("path", ""))
        if match is None:
            return None
        query = QueryDict(scope.get("query_string", b""))  # too many fields and the like: Django's answer
        if any(query.get(name) for name in NEEDS_ORM):
            return None
        if int(match["z"]) >= POINT_ZOOM and has_credentials(scope.get("headers", [])):
            return None
        return parse_tile_request(match["z"], match["x"], match["y"], query)

    async def answer(self, scope: dict, request: tuple[Tile, MapFilters], clients: LoopClients) -> Answer:
        tile, filters = request
        etag = tile_etag(tile.z, tile.x, tile.y, filters.canonical(), PUBLIC.key, await self.follower.current())
        headers = {"Content-Type": MVT_TYPE, **tile_headers(etag, public=True)}
        if_none_match = next((v for k, v in scope.get("headers", []) if k.lower() == b"if-none-match"), b"")
        if etag_matches(if_none_match.decode("latin1"), etag):
            return 304, headers, b""
        data = await generation.get_tile_async(clients.redis, etag)
        if data is None:
            sql, args = tile_sql(tile, filters, PUBLIC)
            data = mvt_bytes(await clients.fetchone(sql, args))
            await generation.put_tile_async(clients.redis, etag, data)
        return 200, headers, data

    async def open(self, clients: LoopClients) -> None:
        self.follower = generation.GenerationFollower(clients.redis)
        self.follower.start()

    async def close(self) -> None:
        follower, self.follower = self.follower, None
        if follower is not None:
            await follower.stop()


def public_tile_router(fallback: Callable, *, pool_size: int = 4) -> LoopRouter:
    """The web process's HTTP app: public tiles on the event loop, everything else to ``fallback``."""
    return LoopRouter(fallback, [PublicTileRoute()], pool_size=pool_size, name="public-tiles")

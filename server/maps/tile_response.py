"""What both tile paths (Django's view and the public fast path) parse and answer alike."""
from __future__ import annotations

import hashlib

from server.common.errors import ApiError

from . import generation
from .filters import MapFilters, parse_map_filters
from .tilemath import Tile, TileError, parse_tile

MVT_TYPE = "application/vnd.mapbox-vector-tile"
TILE_ROUTE = r"map/tiles/(?P<z>-?\d{1,9})/(?P<x>-?\d{1,12})/(?P<y>-?\d{1,12})\.mvt$"  # under /api/v1/ (urls.py)


def parse_tile_request(z: str, x: str, y: str, params) -> tuple[Tile, MapFilters]:
    """The tile address and filters of a request; ``ApiError`` ``invalid_tile`` or ``invalid_filter`` otherwise."""
    try:
        tile = parse_tile(z, x, y)
    except TileError as exc:
        raise ApiError("invalid_tile", str(exc), fields={"tile": f"{z}/{x}/{y}"}) from None
    return tile, parse_map_filters(params)


def tile_etag(z: int, x: int, y: int, filters_digest: str, audience_key: str, gen: int) -> str:
    raw = f"{generation.scope()}|{z}/{x}/{y}|{filters_digest}|{audience_key}|{gen}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def tile_headers(etag: str, public: bool) -> dict[str, str]:
    """ETag (quoted), Vary and Cache-Control: shared caches may keep public tiles, never personal ones."""
    return {"ETag": f'"{etag}"', "Vary": "Authorization, Cookie, Accept",
            "Cache-Control": f"{'public' if public else 'private'}, max-age=60"}


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (unquoted)."""
    return f'"{etag}"' in [t.strip() for t in if_none_match.split(",")]

"""What every tile answer carries, on both tile paths (Django's view and the public fast path)."""
from __future__ import annotations

import hashlib

from . import generation

MVT_TYPE = "application/vnd.mapbox-vector-tile"


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

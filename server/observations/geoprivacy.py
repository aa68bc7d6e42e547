"""Obscure positions of sensitive observations (pure functions, no Django).

Like iNaturalist, an obscured position is a random point inside the 0.2° × 0.2° grid cell
that holds the true one, stable per observation (seeded), so repeated queries cannot be
averaged back to the truth.
"""
from __future__ import annotations

import hashlib
import math

CELL_DEGREES = 0.2


def cell_origin(lat: float, lng: float, cell: float = CELL_DEGREES) -> tuple[float, float]:
    """South-west corner of the grid cell holding (lat, lng)."""
    return math.floor(lat / cell) * cell, math.floor(lng / cell) * cell


def obscure(lat: float, lng: float, seed: str, cell: float = CELL_DEGREES) -> tuple[float, float]:
    """A point drawn uniformly inside the cell of (lat, lng), the same for the same seed."""
    digest = hashlib.sha256(f"dawn-chorus-geoprivacy:{seed}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    v = int.from_bytes(digest[8:16], "big") / 2**64
    lat0, lng0 = cell_origin(lat, lng, cell)
    return min(lat0 + u * cell, 90.0), lng0 + v * cell


def obscured_uncertainty_m(lat: float, cell: float = CELL_DEGREES) -> float:
    """Half the diagonal of the cell in metres: the uncertainty to publish with an obscured point."""
    dy = cell * 111_320.0
    dx = cell * 111_320.0 * math.cos(math.radians(lat))
    return round(math.hypot(dx, dy) / 2.0, 0)

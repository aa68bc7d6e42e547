"""Geometry helpers for the game (pure): area cells, great-circle distance, speeds."""
from __future__ import annotations

import math
from datetime import datetime

import h3

CELL_RES = 7     # ~5 km² hexagons: the "area" of new-cell points and area boards
REGION_RES = 4   # ~1,800 km² hexagons: regional boards
EARTH_RADIUS_M = 6_371_008.8


def cell_of(lat: float, lng: float, res: int = CELL_RES) -> str:
    return h3.latlng_to_cell(lat, lng, res)


def region_of(cell: str) -> str:
    return h3.cell_to_parent(cell, REGION_RES)


def is_cell(name: str) -> bool:
    try:
        return bool(h3.is_valid_cell(name))
    except Exception:
        return False


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def speed_m_s(a: tuple[float, float, datetime], b: tuple[float, float, datetime], slack_m: float = 0.0) -> float:
    """Speed needed to go from ``a`` to ``b`` ((lat, lng, time) each), forgiving ``slack_m`` metres."""
    dist = max(0.0, haversine_m(a[0], a[1], b[0], b[1]) - slack_m)
    dt = abs((b[2] - a[2]).total_seconds())
    if dist == 0.0:
        return 0.0
    return math.inf if dt == 0 else dist / dt

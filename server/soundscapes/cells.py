"""Area cells for soundscapes: H3 hexagons at resolution 8 (~0.74 km², ~530 m edge).

Pure functions (no Django). Within a cell, observations of one species are grouped on a
0.0005° grid (~55 m); a group belongs to the cell holding its grid square's centre, so a cell
can be rebuilt alone and still agree with a whole-window build.
"""
from __future__ import annotations

import math

import h3

CELL_RESOLUTION = 8
MAX_CELL_CHARS = 16  # an H3 index is 15 hex digits
SOURCE_GRID_DEG = 0.0005
MAX_RADIUS_M = 2_000.0
EARTH_RADIUS_M = 6_371_008.8


def valid_coordinates(lat: float, lng: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lng) and -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0


def is_soundscape_cell(cell: str) -> bool:
    """True for a valid H3 index at the soundscape resolution."""
    if not isinstance(cell, str) or len(cell) > MAX_CELL_CHARS:
        return False
    try:
        return bool(h3.is_valid_cell(cell)) and h3.get_resolution(cell) == CELL_RESOLUTION
    except (TypeError, ValueError, OverflowError, h3.H3BaseException):  # "-1" overflows h3's parse
        return False


def cell_of(lat: float, lng: float) -> str:
    return h3.latlng_to_cell(lat, lng, CELL_RESOLUTION)


def cell_of_square(gy: int, gx: int) -> str:
    return h3.latlng_to_cell((gy + 0.5) * SOURCE_GRID_DEG, (gx + 0.5) * SOURCE_GRID_DEG, CELL_RESOLUTION)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def cells_within(lat: float, lng: float, radius_m: float) -> list[str]:
    """Cells with any part within ``radius_m`` of the point (centre distance ≤ radius + circumradius)."""
    centre = cell_of(lat, lng)
    edge = h3.average_hexagon_edge_length(CELL_RESOLUTION, "m")
    k = int(math.ceil(radius_m / (edge * math.sqrt(3)))) + 1
    out = []
    for cell in h3.grid_disk(centre, k):
        clat, clng = h3.cell_to_latlng(cell)
        if cell == centre or distance_m(lat, lng, clat, clng) <= radius_m + 1.2 * edge:
            out.append(cell)
    return sorted(out)


def cell_bbox(cell: str, margin_deg: float = SOURCE_GRID_DEG) -> tuple[float, float, float, float]:
    """(min_lat, min_lng, max_lat, max_lng) of the cell's boundary, widened by ``margin_deg``."""
    pts = h3.cell_to_boundary(cell)
    lats, lngs = [p[0] for p in pts], [p[1] for p in pts]
    return min(lats) - margin_deg, min(lngs) - margin_deg, max(lats) + margin_deg, max(lngs) + margin_deg

"""The ISO 3166-1 alpha-2 country of a point, from Natural Earth's 1:50m admin-0 boundaries bundled in
``fixtures/geo/admin0-50m.topo.json`` (built by ``manage.py build_admin0``; source and licence in
``fixtures/geo/README.md``).

A point inside a country's polygons is that country. A point inside none (at sea, or in the gap that the
1:50m coastline leaves around small islands) takes the nearest country within its tolerance: the larger of
:data:`TERRITORIAL_SEA_M` (12 nautical miles) and the record's coordinate uncertainty (so a generalised
point whose cell holds land still names that land's country), else no code. The geometry functions are
pure; the bundled file is read once per process, on first use.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

ADMIN0 = Path(settings.BASE_DIR) / "fixtures" / "geo" / "admin0-50m.topo.json"
TERRITORIAL_SEA_M = 22_224.0
METRES_PER_DEGREE = 111_195.0  # on the mean-radius sphere


@dataclass(frozen=True)
class Boundaries:
    """Country codes, each country's rings (arrays of (lng, lat)) and its bounding box (w, s, e, n)."""

    codes: tuple[str, ...]
    rings: tuple[tuple[np.ndarray, ...], ...]
    boxes: np.ndarray


def decode_arcs(topology: dict) -> list[np.ndarray]:
    """TopoJSON's delta-encoded, quantised arcs as absolute (lng, lat) arrays."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    out = []
    for arc in topology["arcs"]:
        q = np.cumsum(np.asarray(arc, dtype=np.float64), axis=0)
        out.append(np.column_stack((q[:, 0] * sx + tx, q[:, 1] * sy + ty)))
    return out


def ring_points(arcs: list[np.ndarray], refs: list[int]) -> np.ndarray:
    """A ring from arc references (a negative one, ~i, is arc i reversed); shared end points once."""
    parts = []
    for ref in refs:
        arc = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
        parts.append(arc if not parts else arc[1:])
    return np.concatenate(parts)


def boundaries_from_topology(topology: dict) -> Boundaries:
    """Every geometry of the ``countries`` collection, rings merged per ``id``."""
    arcs = decode_arcs(topology)
    by_code: dict[str, list[np.ndarray]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = by_code.setdefault(geometry["id"], [])
        for polygon in polygons:
            rings.extend(ring_points(arcs, refs) for refs in polygon)
    codes = tuple(by_code)
    rings = tuple(tuple(by_code[c]) for c in codes)
    boxes = np.array([[min(r[:, 0].min() for r in rs), min(r[:, 1].min() for r in rs),
                       max(r[:, 0].max() for r in rs), max(r[:, 1].max() for r in rs)] for rs in rings])
    return Boundaries(codes, rings, boxes)


def inside(rings: tuple[np.ndarray, ...], lng: float, lat: float) -> bool:
    """Even-odd rule over every ring (so holes, such as enclaves, are outside)."""
    crossings = 0
    for ring in rings:
        x0, y0 = ring[:-1, 0], ring[:-1, 1]
        x1, y1 = ring[1:, 0], ring[1:, 1]
        spans = (y0 > lat) != (y1 > lat)
        if not spans.any():
            continue
        x0, y0, x1, y1 = x0[spans], y0[spans], x1[spans], y1[spans]
        x_at = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
        crossings += int(np.count_nonzero(x_at > lng))
    return crossings % 2 == 1


def distance_m(rings: tuple[np.ndarray, ...], lng: float, lat: float) -> float:
    """Shortest distance in metres from the point to the rings' edges (local equirectangular plane)."""
    kx = METRES_PER_DEGREE * math.cos(math.radians(lat))
    best = math.inf
    for ring in rings:
        ax, ay = (ring[:-1, 0] - lng) * kx, (ring[:-1, 1] - lat) * METRES_PER_DEGREE
        bx, by = (ring[1:, 0] - lng) * kx, (ring[1:, 1] - lat) * METRES_PER_DEGREE
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.clip(np.where(length2 > 0, -(ax * dx + ay * dy) / np.where(length2 > 0, length2, 1), 0), 0, 1)
        px, py = ax + t * dx, ay + t * dy
        best = min(best, float(np.sqrt((px * px + py * py).min())))
    return best


def country_at(boundaries: Boundaries, lng: float, lat: float, tolerance_m: float = TERRITORIAL_SEA_M) -> str:
    """The alpha-2 code of the country holding (lng, lat), else of the nearest within ``tolerance_m``, else ""."""
    w, s, e, n = boundaries.boxes.T
    for i in np.flatnonzero((w <= lng) & (lng <= e) & (s <= lat) & (lat <= n)):
        if inside(boundaries.rings[i], lng, lat):
            return boundaries.codes[i]
    dlat = tolerance_m / METRES_PER_DEGREE
    dlng = dlat / max(math.cos(math.radians(lat)), 1e-6)
    near = np.flatnonzero((w - dlng <= lng) & (lng <= e + dlng) & (s - dlat <= lat) & (lat <= n + dlat))
    best_code, best_d = "", tolerance_m
    for i in near:
        d = distance_m(boundaries.rings[i], lng, lat)
        if d <= best_d:
            best_code, best_d = boundaries.codes[i], d
    return best_code


_lock = threading.Lock()
_bundled: Boundaries | None = None


def bundled() -> Boundaries:
    """The bundled admin-0 boundaries, read on first use."""
    global _bundled
    with _lock:
        if _bundled is None:
            _bundled = boundaries_from_topology(json.loads(ADMIN0.read_text(encoding="utf-8")))
        return _bundled


@lru_cache(maxsize=65_536)
def country_code(lng: float, lat: float, uncertainty_m: float = 0.0) -> str:
    """ISO 3166-1 alpha-2 of a WGS84 point by the bundled boundaries ("" farther from land than both
    territorial waters and ``uncertainty_m``)."""
    return country_at(bundled(), lng, lat, max(TERRITORIAL_SEA_M, uncertainty_m))

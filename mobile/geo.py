"""Map maths for the canvas map: Web-Mercator projection, grid clustering by zoom, scale bar."""
from __future__ import annotations

import math
from dataclasses import dataclass

TILE = 256.0
EARTH_CIRCUMFERENCE_M = 40_075_016.686


def project(lat: float, lng: float, zoom: float) -> tuple[float, float]:
    """World pixel coordinates (x right, y down) of a WGS84 point at ``zoom``."""
    lat = max(-85.05112878, min(85.05112878, lat))
    scale = TILE * 2.0 ** zoom
    x = (lng + 180.0) / 360.0 * scale
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale
    return x, y


def metres_per_pixel(lat: float, zoom: float) -> float:
    return EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / (TILE * 2.0 ** zoom)


def to_screen(lat: float, lng: float, center: tuple[float, float], zoom: float,
              size: tuple[float, float]) -> tuple[float, float]:
    """Screen position (Kivy: y up) of a point on a map of ``size`` centred on ``center`` (lat, lng)."""
    cx, cy = project(center[0], center[1], zoom)
    x, y = project(lat, lng, zoom)
    return size[0] / 2 + (x - cx), size[1] / 2 - (y - cy)


@dataclass(frozen=True)
class Cluster:
    lat: float
    lng: float
    count: int
    ids: tuple
    own: bool  # holds one of the player's observations


def cluster(points: list[dict], zoom: float, cell_px: float = 48.0) -> list[Cluster]:
    """Group points ``{"id", "lat", "lng", "own"}`` falling into the same ``cell_px`` grid cell at ``zoom``."""
    cells: dict[tuple[int, int], list[dict]] = {}
    for p in points:
        x, y = project(p["lat"], p["lng"], zoom)
        cells.setdefault((int(x // cell_px), int(y // cell_px)), []).append(p)
    out = []
    for members in cells.values():
        out.append(Cluster(lat=sum(m["lat"] for m in members) / len(members),
                           lng=sum(m["lng"] for m in members) / len(members), count=len(members),
                           ids=tuple(m["id"] for m in members), own=any(m.get("own") for m in members)))
    return sorted(out, key=lambda c: (-c.count, c.lat, c.lng))


def scale_bar(lat: float, zoom: float, max_px: float) -> tuple[float, float, str]:
    """(metres, pixels, label) of the longest 1-2-5 bar not longer than ``max_px``."""
    mpp = metres_per_pixel(lat, zoom)
    limit = max_px * mpp
    best = 1.0
    for exp in range(0, 8):
        for step in (1, 2, 5):
            m = step * 10 ** exp
            if m <= limit:
                best = m
    label = f"{best / 1000:g} km" if best >= 1000 else f"{best:g} m"
    return best, best / mpp, label


def bbox_around(lat: float, lng: float, zoom: float, size: tuple[float, float]) -> tuple[float, float, float, float]:
    """(west, south, east, north) visible on a map of ``size`` pixels."""
    mpp = metres_per_pixel(lat, zoom)
    half_w, half_h = size[0] / 2 * mpp, size[1] / 2 * mpp
    dlat = math.degrees(half_h / 6_371_000.0)
    dlng = math.degrees(half_w / (6_371_000.0 * max(1e-6, math.cos(math.radians(lat)))))
    return lng - dlng, max(-90, lat - dlat), lng + dlng, min(90, lat + dlat)


def features_to_points(geojson: dict, own_username: str = "") -> list[dict]:
    """Points from the observations API's GeoJSON (lng, lat order) with their species; obscured
    observations are left to :func:`obscured_cells` (their point would look exact)."""
    pts = []
    for f in (geojson or {}).get("features", []) or []:
        try:
            lng, lat = f["geometry"]["coordinates"][:2]
        except (KeyError, TypeError, ValueError):
            continue
        props = f.get("properties") or {}
        if props.get("cell"):
            continue
        pts.append({"id": f.get("id", props.get("id")), "lat": float(lat), "lng": float(lng),
                    "species": props.get("species", ""),
                    "own": bool(own_username) and props.get("recordist") == own_username})
    return pts


def obscured_cells(geojson: dict) -> list[tuple[float, float, float, float]]:
    """(west, south, east, north) of each distinct cell an obscured observation is published as (its
    ``cell`` property): the map draws these areas instead of points."""
    cells = []
    for f in (geojson or {}).get("features", []) or []:
        cell = (f.get("properties") or {}).get("cell")
        try:
            box = tuple(float(v) for v in cell) if cell else None
        except (TypeError, ValueError):
            continue
        if box is not None and len(box) == 4 and box not in cells:
            cells.append(box)
    return cells


def fit_view(points: list[tuple[float, float]], size: tuple[float, float], margin: float = 0.8,
             min_zoom: float = 3.0, max_zoom: float = 17.0) -> tuple[tuple[float, float], float]:
    """(centre lat/lng, zoom) showing every point inside ``margin`` of a ``size`` px view."""
    if not points:
        raise ValueError("no points to fit")
    xs, ys = zip(*(project(lat, lng, 0) for lat, lng in points))
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    center = ((min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2)  # near enough at these spans
    dx, dy = max(xs) - min(xs), max(ys) - min(ys)
    zoom = max_zoom
    if dx > 0 or dy > 0:
        fit = min(size[0] * margin / dx if dx > 0 else float("inf"), size[1] * margin / dy if dy > 0 else float("inf"))
        zoom = math.log2(fit)
    return center, max(min_zoom, min(max_zoom, zoom))

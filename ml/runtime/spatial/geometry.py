"""Listener-relative geometry: great-circle distance and bearing, azimuth relative to a heading.

Distances use the haversine formula on a sphere of the mean Earth radius (error < 0.5 % against
the WGS84 ellipsoid, far below GPS error); bearings are initial great-circle bearings, clockwise
from true north. Azimuth is the bearing minus the listener's heading, wrapped to (-180, 180]:
0° is straight ahead, +90° to the right, -90° to the left, ±180° behind. All functions accept
numpy arrays and broadcast.
"""
from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


def wrap180(deg: np.ndarray | float) -> np.ndarray:
    """Angles wrapped to (-180, 180]."""
    w = np.mod(np.asarray(deg, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.where(w == -180.0, 180.0, w)


def valid_position(lat: np.ndarray | float, lng: np.ndarray | float) -> np.ndarray:
    """True where (lat, lng) is finite and on the globe."""
    lat, lng = np.asarray(lat, dtype=np.float64), np.asarray(lng, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90.0) & (np.abs(lng) <= 180.0)


def haversine_m(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Great-circle distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lng2, dtype=np.float64) - np.asarray(lng1, dtype=np.float64))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arctan2(np.sqrt(a), np.sqrt(np.maximum(1 - a, 0.0)))


def bearing_deg(lat1, lng1, lat2, lng2) -> np.ndarray:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lng2, dtype=np.float64) - np.asarray(lng1, dtype=np.float64))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.mod(np.degrees(np.arctan2(y, x)), 360.0)


def destination(lat: float, lng: float, bearing: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lng) along ``bearing`` (degrees from north)."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = np.radians(lat), np.radians(lng), np.radians(bearing)
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return float(np.degrees(p2)), float(wrap180(np.degrees(l2)))


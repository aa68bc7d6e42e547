"""Which way the listener faces: head tracker, else course of travel, else compass.

Lessons from Microsoft Soundscape: a head tracker is best; while walking, the GPS course is a
better guide than a phone compass held at an arbitrary angle in a pocket; standing still, the
compass is all there is. With none of them the renderer suspends direction cues and dims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import bearing_deg, haversine_m

MIN_COURSE_SPEED_MPS = 0.7   # below a slow walk, GPS course is noise
MIN_COURSE_STEP_M = 3.0      # GPS fixes closer than this give no course


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


@dataclass(frozen=True)
class HeadingReading:
    """The heading sensors' latest values in degrees from north; None or NaN when unavailable."""

    head_tracker_deg: float | None = None
    course_deg: float | None = None
    speed_mps: float | None = None
    compass_deg: float | None = None


def resolve_heading(reading: HeadingReading | float | None) -> tuple[float | None, str]:
    """(heading in [0, 360), source): source is head_tracker, course, compass or none."""
    if reading is None:
        return None, "none"
    if not isinstance(reading, HeadingReading):
        reading = HeadingReading(compass_deg=float(reading))
    if _finite(reading.head_tracker_deg):
        return reading.head_tracker_deg % 360.0, "head_tracker"
    if _finite(reading.course_deg) and _finite(reading.speed_mps) and reading.speed_mps >= MIN_COURSE_SPEED_MPS:
        return reading.course_deg % 360.0, "course"
    if _finite(reading.compass_deg):
        return reading.compass_deg % 360.0, "compass"
    return None, "none"


class CourseTracker:
    """Course and speed of travel from successive GPS fixes (lat, lng, time in seconds)."""

    def __init__(self) -> None:
        self._last: tuple[float, float, float] | None = None
        self.course_deg: float | None = None
        self.speed_mps: float | None = None

    def update(self, lat: float, lng: float, t_s: float) -> None:
        if not all(_finite(v) for v in (lat, lng, t_s)):
            return
        if self._last is None:
            self._last = (lat, lng, t_s)
            return
        lat0, lng0, t0 = self._last
        step = float(haversine_m(lat0, lng0, lat, lng))
        if t_s <= t0:
            return
        if step >= MIN_COURSE_STEP_M:
            self.course_deg = float(bearing_deg(lat0, lng0, lat, lng))
            self.speed_mps = step / (t_s - t0)
            self._last = (lat, lng, t_s)
        elif t_s - t0 > 5.0:   # standing still: the old course is no longer meaningful
            self.speed_mps = step / (t_s - t0)
            self._last = (lat, lng, t_s)

"""Position and heading: plyer on Android, a simulated walk on desktops and in tests."""
from __future__ import annotations

import math
import threading
import time

from ..heading import HeadingUnavailable, LowPass, pitch_deg, tilt_compensated_heading
from .base import Fix, ServiceUnavailable

EARTH_RADIUS_M = 6_371_000.0


def offset(lat: float, lng: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres from (lat, lng) (flat-earth, fine below a few km)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlng = math.degrees(east_m / (EARTH_RADIUS_M * max(1e-9, math.cos(math.radians(lat)))))
    return lat + dlat, lng + dlng


class SimulatedWalk:
    """A walk on a circle of ``radius_m`` around a start point at ``speed_m_s``; Location and Compass.

    ``available=False`` simulates a phone without a GPS fix.
    """

    def __init__(self, lat: float = 18.2960, lng: float = -65.7850, radius_m: float = 60.0,
                 speed_m_s: float = 1.2, accuracy_m: float = 8.0, clock=time.monotonic):
        self.lat0, self.lng0, self.radius_m, self.speed = lat, lng, radius_m, speed_m_s
        self.accuracy_m = accuracy_m
        self.available = True
        self.heading_override: float | None = None
        self.tilt = 0.0
        self._clock = clock
        self._t0 = clock()

    def _angle(self) -> float:
        return (self._clock() - self._t0) * self.speed / max(self.radius_m, 1e-6)

    def current(self) -> Fix:
        if not self.available:
            raise ServiceUnavailable("gps_unavailable", "No GPS position yet. Step outside or wait a moment; "
                                     "you can still record and the take waits for a position.")
        a = self._angle()
        lat, lng = offset(self.lat0, self.lng0, self.radius_m * math.cos(a), self.radius_m * math.sin(a))
        return Fix(lat=lat, lng=lng, accuracy_m=self.accuracy_m, timestamp=time.time())

    def heading_deg(self) -> float:
        if self.heading_override is not None:
            return self.heading_override % 360.0
        # walking counter-clockwise seen from above: the tangent of the circle
        return (math.degrees(self._angle()) + 90.0) % 360.0

    def tilt_deg(self) -> float:
        return self.tilt


class PlyerLocation:
    """GPS through plyer (Android/iOS). Starts listening on construction."""

    def __init__(self, min_time_ms: int = 1000, min_distance_m: float = 1.0):
        self._fix: Fix | None = None
        self._lock = threading.Lock()
        try:
            from plyer import gps  # type: ignore[import-not-found]

            gps.configure(on_location=self._on_location)
            gps.start(minTime=min_time_ms, minDistance=min_distance_m)
        except Exception:  # noqa: BLE001 - NotImplementedError on desktops, permissions on phones
            self._failed = True
        else:
            self._failed = False

    def _on_location(self, **kw) -> None:
        try:
            speed = kw.get("speed")
            moving = isinstance(speed, (int, float)) and math.isfinite(speed) and speed > 0
            fix = Fix(lat=float(kw["lat"]), lng=float(kw["lon"]), accuracy_m=float(kw.get("accuracy") or 50.0),
                      timestamp=time.time(), speed_mps=float(speed) if moving else None,
                      course_deg=float(kw["bearing"]) if moving and isinstance(kw.get("bearing"), (int, float))
                      else None)
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            self._fix = fix

    def current(self) -> Fix:
        if self._failed:
            raise ServiceUnavailable("gps_unavailable", "Location is off or not permitted. Turn it on in the "
                                     "phone's settings to place your recordings on the map.")
        with self._lock:
            if self._fix is None:
                raise ServiceUnavailable("gps_unavailable", "Waiting for a GPS position…")
            return self._fix


_PLYER = object()


class PlyerCompass:
    """Tilt-compensated heading (:func:`mobile.heading.tilt_compensated_heading`) from plyer's
    magnetometer (``compass.field``) and accelerometer, both smoothed; true north once a position
    gives the declination (Android's ``GeomagneticField``). ``sensors`` = (compass, accelerometer)
    for tests; None when the platform has neither."""

    def __init__(self, sensors=_PLYER, smoothing: float = 0.25):
        if sensors is _PLYER:
            try:
                from plyer import accelerometer, compass  # type: ignore[import-not-found]

                compass.enable()
                accelerometer.enable()
                sensors = (compass, accelerometer)
            except Exception:  # noqa: BLE001 - NotImplementedError on desktops, no sensor on the phone
                sensors = None
        self._compass, self._acc = sensors if sensors is not None else (None, None)
        self._field, self._gravity = LowPass(smoothing), LowPass(smoothing)
        self.declination_deg = 0.0

    def set_position(self, lat: float, lng: float, altitude_m: float = 0.0) -> None:
        """Take the magnetic declination at this place from Android (0 where it cannot be had)."""
        try:
            from jnius import autoclass  # type: ignore[import-not-found]

            field = autoclass("android.hardware.GeomagneticField")(float(lat), float(lng), float(altitude_m),
                                                                   int(time.time() * 1000))
            self.declination_deg = float(field.getDeclination())
        except Exception:  # noqa: BLE001 - not on Android: magnetic north stands for true north
            self.declination_deg = 0.0

    def _read(self, sensor, attr: str, smoother: LowPass):
        try:
            value = getattr(sensor, attr) if sensor is not None else None
        except Exception:  # noqa: BLE001 - plyer raises when the sensor went away
            value = None
        return smoother.feed(value)

    def heading_deg(self) -> float:
        gravity = self._read(self._acc, "acceleration", self._gravity)
        field = self._read(self._compass, "field", self._field)
        try:
            return tilt_compensated_heading(gravity, field, self.declination_deg)
        except HeadingUnavailable as exc:
            raise ServiceUnavailable("compass_unavailable", exc.message) from None

    def tilt_deg(self) -> float | None:
        return pitch_deg(self._read(self._acc, "acceleration", self._gravity))

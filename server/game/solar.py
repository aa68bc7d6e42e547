"""Sun position (NOAA approximation, ~1 minute accuracy): dawn-chorus and night-owl badges."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

DAWN_BEFORE = timedelta(hours=1, minutes=30)  # a dawn recording starts at most this long before sunrise
DAWN_AFTER = timedelta(hours=1)               # ... and at most one hour after it
NIGHT_ELEVATION_DEG = -12.0                   # nautical night


def _julian_century(when: datetime) -> float:
    jd = when.astimezone(timezone.utc).timestamp() / 86400.0 + 2440587.5
    return (jd - 2451545.0) / 36525.0


def _declination_and_eot(t: float) -> tuple[float, float]:
    """Solar declination (rad) and equation of time (minutes) at Julian century ``t``."""
    l0 = math.radians((280.46646 + t * (36000.76983 + 0.0003032 * t)) % 360)
    m = math.radians(357.52911 + t * (35999.05029 - 0.0001537 * t))
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    c = (math.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t)) + math.sin(2 * m) * (0.019993 - 0.000101 * t)
         + math.sin(3 * m) * 0.000289)
    true_long = l0 + math.radians(c)
    omega = math.radians(125.04 - 1934.136 * t)
    app_long = true_long - math.radians(0.00569 + 0.00478 * math.sin(omega))
    eps0 = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    eps = math.radians(eps0 + 0.00256 * math.cos(omega))
    decl = math.asin(math.sin(eps) * math.sin(app_long))
    y = math.tan(eps / 2) ** 2
    eot = 4 * math.degrees(y * math.sin(2 * l0) - 2 * e * math.sin(m) + 4 * e * y * math.sin(m) * math.cos(2 * l0)
                           - 0.5 * y * y * math.sin(4 * l0) - 1.25 * e * e * math.sin(2 * m))
    return decl, eot


def elevation_deg(when: datetime, lat: float, lng: float) -> float:
    """The sun's elevation above the horizon in degrees (no refraction)."""
    utc = when.astimezone(timezone.utc)
    decl, eot = _declination_and_eot(_julian_century(utc))
    minutes = utc.hour * 60 + utc.minute + utc.second / 60
    solar_time = (minutes + eot + 4 * lng) % 1440
    hour_angle = math.radians(solar_time / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def sunrise_utc(when: datetime, lat: float, lng: float) -> datetime | None:
    """Sunrise nearest to ``when`` at (lat, lng); None during polar day or night."""
    utc = when.astimezone(timezone.utc)
    best: datetime | None = None
    for offset in (-1, 0, 1):
        day = (utc + timedelta(days=offset)).replace(hour=12, minute=0, second=0, microsecond=0)
        decl, eot = _declination_and_eot(_julian_century(day))
        phi = math.radians(lat)
        cos_ha = (math.cos(math.radians(90.833)) / (math.cos(phi) * math.cos(decl))) - math.tan(phi) * math.tan(decl)
        if not -1.0 <= cos_ha <= 1.0:
            return None
        minutes = 720 - 4 * (lng + math.degrees(math.acos(cos_ha))) - eot
        rise = day.replace(hour=0) + timedelta(minutes=minutes)
        if best is None or abs(rise - utc) < abs(best - utc):
            best = rise
    return best


def is_dawn(when: datetime, lat: float, lng: float) -> bool:
    """Recorded in the dawn chorus: from 90 minutes before sunrise to one hour after it."""
    rise = sunrise_utc(when, lat, lng)
    return rise is not None and rise - DAWN_BEFORE <= when <= rise + DAWN_AFTER


def is_night(when: datetime, lat: float, lng: float) -> bool:
    """Recorded in the night: the sun at least 12° below the horizon."""
    return elevation_deg(when, lat, lng) <= NIGHT_ELEVATION_DEG

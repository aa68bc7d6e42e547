"""Obscure positions of sensitive observations (pure functions, no Django).

Like iNaturalist, an obscured position is a random point inside the 0.2° × 0.2° grid cell
that holds the true one, stable per observation (seeded), so repeated queries cannot be
averaged back to the truth.

An obscured observation's public outputs carry only that cell (and the point in it), its date
without the time (:func:`coarse_date`), no recordist and no link that could reveal coordinates;
the same recordist's observations within :data:`LINKAGE_WINDOW_HOURS` of a sensitive one are
obscured as well (:func:`linkage_window`), so they cannot be matched to it by time or name.
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime, time, timedelta, timezone

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


# --- What the public sees of an obscured observation (iNaturalist's and eBird's practice) -------------

LINKAGE_WINDOW_HOURS = 24
"""The same recordist's observations within this many hours of a sensitive one are obscured too."""

COARSE_PRECISIONS = ("year", "month", "day")


def cell_bounds(lat: float, lng: float, cell: float = CELL_DEGREES) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the grid cell holding (lat, lng), rounded to 6 decimals.

    For an obscured observation's public point this is the cell of its true point (the public
    point is drawn inside that cell), so it may be published: it says no more than the point does.
    """
    south, west = cell_origin(lat, lng, cell)
    return round(west, 6), round(south, 6), round(west + cell, 6), round(min(south + cell, 90.0), 6)


def coarse_precision(precision: str) -> str:
    """The published precision of an obscured time: ``day`` at most (``year``/``month`` stay)."""
    return precision if precision in COARSE_PRECISIONS else "day"


def coarse_date(observed_at: datetime, precision: str) -> str:
    """An obscured observation's published time: its UTC date at :func:`coarse_precision` (ISO 8601)."""
    day = observed_at.astimezone(timezone.utc).date()
    kept = coarse_precision(precision)
    return f"{day:%Y}" if kept == "year" else f"{day:%Y-%m}" if kept == "month" else day.isoformat()


def coarse_instant(observed_at: datetime) -> datetime:
    """Midnight UTC of the observation's day: where a public number (a tile's epoch) needs an instant."""
    day = observed_at.astimezone(timezone.utc).date()
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def linkage_window(observed_at: datetime, hours: int = LINKAGE_WINDOW_HOURS) -> tuple[datetime, datetime]:
    """[start, end] of the instants whose same-recordist observations are linked to one at ``observed_at``."""
    span = timedelta(hours=hours)
    return observed_at - span, observed_at + span


def _midnight(t: datetime) -> datetime:
    u = t.astimezone(timezone.utc)
    return datetime(u.year, u.month, u.day, tzinfo=timezone.utc)


def coarse_from(bound: datetime) -> datetime:
    """The earliest true instant whose published midnight is at or after ``bound`` (its next midnight,
    or itself at midnight): an obscured record matches ``date_from`` iff its instant is at least this."""
    start = _midnight(bound)
    return start if start == bound else start + timedelta(days=1)


def coarse_until(bound: datetime) -> datetime:
    """The end (exclusive) of the day holding ``bound``: an obscured record matches ``date_to`` iff its
    instant is before this (its published midnight is at or before ``bound``)."""
    return _midnight(bound) + timedelta(days=1)


def midnight_within(start: time, end: time) -> bool:
    """Whether 00:00, an obscured record's published time of day, lies in a time-of-day filter
    [start, end] (which wraps past midnight when start > end)."""
    midnight = time(0, 0)
    return start <= midnight <= end if start <= end else True

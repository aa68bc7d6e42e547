"""Time windows of soundscapes: the live last-24-hours window and UTC days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

LIVE = "live"
LIVE_HOURS = 24


@dataclass(frozen=True)
class Window:
    name: str
    start: datetime
    end: datetime


def live_window(now: datetime) -> Window:
    return Window(LIVE, now - timedelta(hours=LIVE_HOURS), now)


def day_window(day: date) -> Window:
    start = datetime.combine(day, time(0, 0), timezone.utc)
    return Window(day.isoformat(), start, start + timedelta(days=1))


def window_for(name: str, now: datetime) -> Window:
    return live_window(now) if name == LIVE else day_window(date.fromisoformat(name))

"""Leaderboard names and pure helpers (no Redis): which boards an event scores on, percentile bands."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime

from .geo import is_cell, region_of

FIXED = ("alltime", "weekly")
PREFIXES = ("area-", "species-", "team-")
BANDS = (1, 5, 10, 25, 50, 75, 100)


class BoardNameError(ValueError):
    pass


def week_of(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}W{week:02d}"


def validate(name: str) -> str:
    """The board name, checked: alltime, weekly, weekly-<YYYYWww>, area-<h3>, species-<label>, team-<id>."""
    if name in FIXED:
        return name
    if re.fullmatch(r"weekly-\d{4}W\d{2}", name):
        return name
    if name.startswith("area-") and is_cell(name[5:]):
        return name
    if name.startswith("species-") and 0 < len(name) - 8 <= 120:
        return name
    if re.fullmatch(r"team-[1-9]\d{0,9}", name):
        return name
    raise BoardNameError(f"Unknown leaderboard {name[:80]!r}: use alltime, weekly, area-<cell>, "
                         "species-<label> or team-<id>.")


def resolve(name: str, now: datetime) -> str:
    """The stored board a public name refers to ('weekly' is the current ISO week)."""
    return f"weekly-{week_of(now)}" if name == "weekly" else name


def boards_for(*, created_at: datetime, cell: str, species_label: str, team_id: int | None) -> list[str]:
    """The stored boards one ledger event adds its points to."""
    out = ["alltime", f"weekly-{week_of(created_at)}"]
    if cell:
        out += [f"area-{cell}", f"area-{region_of(cell)}"]
    if species_label:
        out.append(f"species-{species_label}")
    if team_id:
        out.append(f"team-{team_id}")
    return out


def group_for(board: str) -> str:
    """The Channels group of a board's subscribers (group names must be short ASCII)."""
    return "board." + hashlib.sha1(board.encode()).hexdigest()[:20]


def band_for(rank: int, size: int) -> tuple[float, str]:
    """(percentile, band) for a 0-based rank: 'top 1%' ... 'top 100%'; percentile 100 = first."""
    if size <= 0:
        return 0.0, "unranked"
    top_fraction = (rank + 1) / size * 100
    band = next(b for b in BANDS if top_fraction <= b)
    return round(100.0 - (rank / size) * 100.0, 2), f"top {band}%"

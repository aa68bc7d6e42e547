"""Adopt-a-bird streak rule (pure): consecutive days, with one forgiven missed day per streak."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class StreakUpdate:
    streak: int
    grace_used: bool
    broken: bool


def next_streak(last_day: date | None, day: date, streak: int, grace_used: bool) -> StreakUpdate:
    """The streak after a check-in on ``day``.

    The next day continues the streak. Missing exactly one day is forgiven once per streak
    (the grace rule). A longer gap, or a second missed day, starts a new streak at 1.
    ``day`` must be after ``last_day`` (callers refuse a second check-in the same day).
    """
    if last_day is None:
        return StreakUpdate(1, False, False)
    gap = (day - last_day).days
    if gap <= 0:
        raise ValueError("A check-in must be on a later day than the previous one.")
    if gap == 1:
        return StreakUpdate(streak + 1, grace_used, False)
    if gap == 2 and not grace_used:
        return StreakUpdate(streak + 1, True, False)
    return StreakUpdate(1, False, True)

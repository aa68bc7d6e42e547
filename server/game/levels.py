"""Levels, titles and what each level unlocks (pure functions; documented in README.md)."""
from __future__ import annotations

from dataclasses import dataclass

# XP needed to *reach* level i+1 (index 0 is level 1).
THRESHOLDS: tuple[int, ...] = (0, 50, 150, 300, 500, 800, 1200, 1700, 2300, 3000)
TITLES: tuple[str, ...] = ("Fledgling", "Listener", "Songcatcher", "Dawn Walker", "Field Recordist",
                           "Chorus Keeper", "Soundscape Ranger", "Sound Cartographer", "Master Listener",
                           "Dawn Chorus Legend")
SCENARIO_LEVELS: dict[str, int] = {"quiz": 1, "hunt": 2, "timetravel": 3, "adopt": 4}
IDENTIFY_LEVEL = 2  # community identification needs this level (researchers always may)


@dataclass(frozen=True)
class LevelInfo:
    xp: int
    level: int
    title: str
    next_level_xp: int | None
    unlocked: tuple[str, ...]


def level_for(xp: int) -> int:
    """The level reached with ``xp`` points (1-based)."""
    level = 1
    for i, need in enumerate(THRESHOLDS):
        if xp >= need:
            level = i + 1
    return level


def title_for(level: int) -> str:
    return TITLES[min(max(level, 1), len(TITLES)) - 1]


def unlocked_scenarios(level: int) -> tuple[str, ...]:
    return tuple(name for name, need in SCENARIO_LEVELS.items() if level >= need)


def level_info(xp: int) -> LevelInfo:
    level = level_for(xp)
    nxt = THRESHOLDS[level] if level < len(THRESHOLDS) else None
    return LevelInfo(xp, level, title_for(level), nxt, unlocked_scenarios(level))

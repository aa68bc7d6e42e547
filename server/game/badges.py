"""Badges as data: each :class:`BadgeDefinition` compares one metric with a threshold.

Metrics are counts derived from the ledger (plus adoption streaks). After new events only the
badges whose metric those events can move are evaluated: one query returns the player's XP, those
metrics and the active badges of those metrics the player does not hold yet (definitions are read
fresh, so admin changes apply at once); the earned ones are granted through the ORM, each once.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from .insert_once import insert_once
from .levels import level_for
from .models import BadgeDefinition, PlayerBadge
from .rows import from_row

# metric -> (rule, tag): the number of the player's ledger rows of that rule (carrying that tag)
LEDGER_METRICS: dict[str, tuple[str, str | None]] = {
    "recordings": ("recording_accepted", None),
    "species": ("new_species", None),
    "cells": ("new_cell", None),
    "rare": ("rare_species", None),
    "dawn": ("recording_accepted", "dawn"),
    "night": ("recording_accepted", "night"),
    "agreed_identifications": ("identification_agreed", None),
    "research_grade": ("research_grade", None),
    "quiz_correct": ("quiz_answer", None),
    "hunt_finds": ("hunt_find", None),
    "timetravel_steps": ("timetravel_step", None),
    "quests_completed": ("quest_complete", None),
}
OTHER_METRICS = ("level", "adopt_streak", "quest")
METRICS = tuple(LEDGER_METRICS) + OTHER_METRICS
# which metrics a rule can move
RULE_METRICS: dict[str, set[str]] = {
    "recording_accepted": {"recordings", "dawn", "night"}, "new_species": {"species"}, "new_cell": {"cells"},
    "rare_species": {"rare"}, "identification_agreed": {"agreed_identifications"},
    "research_grade": {"research_grade"}, "quiz_answer": {"quiz_correct"}, "hunt_find": {"hunt_finds"},
    "timetravel_step": {"timetravel_steps"}, "quest_complete": {"quests_completed", "quest"},
    "adopt_checkin": {"adopt_streak"},
}
BADGE_FIELDS = ("id", "slug", "name", "description", "metric", "threshold", "params", "active")
# a "quest" badge counts completed quests: the one in params.quest, or any
_QUEST_DONE = """(SELECT count(*) FROM game_pointevent e WHERE e.player_id = %(player)s AND e.rule = 'quest_complete'
    AND (coalesce(b.params->>'quest', '') = '' OR e.tags @> jsonb_build_array('quest:' || (b.params->>'quest'))))"""


@dataclass(frozen=True)
class Evaluation:
    xp: int
    earned: list[BadgeDefinition]  # granted now


def metrics_moved_by(rules: set[str]) -> set[str]:
    moved = {"level"}
    for rule in rules:
        moved |= RULE_METRICS.get(rule, set())
    return moved


@functools.lru_cache(maxsize=64)
def _state_sql(metrics: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    """(SQL, ledger metrics in column order) for the player's XP, metric values and candidate badges."""
    ledger = tuple(sorted(m for m in metrics if m in LEDGER_METRICS))
    counts = []
    for m in ledger:
        rule, tag = LEDGER_METRICS[m]
        counts.append(f"count(*) FILTER (WHERE rule = '{rule}'" + (f" AND tags @> '[\"{tag}\"]'" if tag else "") + ")")
    adopt = ("(SELECT coalesce(max(a.best_streak), 0) FROM game_adoption a WHERE a.player_id = %(player)s)"
             if "adopt_streak" in metrics else "0")
    sql = f"""
SELECT ledger.*, {adopt},
  (SELECT coalesce(json_agg(json_build_array({", ".join("b." + f for f in BADGE_FIELDS)},
                                             CASE WHEN b.metric = 'quest' THEN {_QUEST_DONE} END)
                            ORDER BY b.metric, b.threshold, b.slug), '[]')
   FROM game_badgedefinition b
   WHERE b.active AND b.metric = ANY(%(metrics)s)
     AND NOT EXISTS (SELECT 1 FROM game_playerbadge h WHERE h.player_id = %(player)s AND h.badge_id = b.id))
FROM (SELECT coalesce(sum(amount), 0){"".join(", " + c for c in counts)}
      FROM game_pointevent WHERE player_id = %(player)s) ledger
"""
    return sql, ledger


def evaluate(player_id: int, rules: set[str]) -> Evaluation:
    """The player's XP, and every not-yet-held active badge that events of ``rules`` may have earned,
    granted (returned in ``earned``)."""
    moved = frozenset(metrics_moved_by(rules))
    sql, ledger = _state_sql(moved)
    with connection.cursor() as cur:
        cur.execute(sql, {"player": player_id, "metrics": sorted(moved)})
        xp, *counts, adopt_streak, candidates = cur.fetchone()
    values = dict(zip(ledger, counts), level=level_for(xp), adopt_streak=adopt_streak)
    if isinstance(candidates, str):
        candidates = json.loads(candidates)
    earned = []
    for *fields, quests_done in candidates:
        badge = from_row(BadgeDefinition, dict(zip(BADGE_FIELDS, fields)))
        value = quests_done if badge.metric == "quest" else values.get(badge.metric, 0)
        if value >= badge.threshold:
            earned.append(badge)
    return Evaluation(int(xp), grant_many(player_id, earned))


def grant_many(player_id: int, badges: list[BadgeDefinition]) -> list[BadgeDefinition]:
    """Give badges once (safe under concurrency); returns those the player did not hold."""
    now = timezone.now()
    return [b for b in badges
            if insert_once(PlayerBadge(player_id=player_id, badge_id=b.pk, earned_at=now), "player_badge_once")]


def grant(player_id: int, badge: BadgeDefinition) -> bool:
    """Give a badge once (safe under concurrency); False if the player already holds it."""
    return bool(grant_many(player_id, [badge]))

"""Badges as data: each :class:`BadgeDefinition` compares one metric with a threshold.

Metrics are counts derived from the ledger (plus adoption streaks). After new events only the
badges whose metric those events can change are evaluated, with one aggregate query.
"""
from __future__ import annotations

from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone

from .ledger import total_xp
from .levels import level_for
from .models import Adoption, BadgeDefinition, PlayerBadge, PointEvent

# metric -> ledger filter whose row count is the metric's value
LEDGER_METRICS: dict[str, Q] = {
    "recordings": Q(rule="recording_accepted"),
    "species": Q(rule="new_species"),
    "cells": Q(rule="new_cell"),
    "rare": Q(rule="rare_species"),
    "dawn": Q(rule="recording_accepted", tags__contains=["dawn"]),
    "night": Q(rule="recording_accepted", tags__contains=["night"]),
    "agreed_identifications": Q(rule="identification_agreed"),
    "research_grade": Q(rule="research_grade"),
    "quiz_correct": Q(rule="quiz_answer"),
    "hunt_finds": Q(rule="hunt_find"),
    "timetravel_steps": Q(rule="timetravel_step"),
    "quests_completed": Q(rule="quest_complete"),
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


def metrics_moved_by(rules: set[str]) -> set[str]:
    moved = {"level"}
    for rule in rules:
        moved |= RULE_METRICS.get(rule, set())
    return moved


def _metric_values(player_id: int, metrics: set[str], xp: int | None = None) -> dict[str, int]:
    values: dict[str, int] = {}
    wanted = {m: LEDGER_METRICS[m] for m in metrics if m in LEDGER_METRICS}
    if wanted:
        values.update(PointEvent.objects.filter(player_id=player_id)
                      .aggregate(**{m: Count("id", filter=q) for m, q in wanted.items()}))
    if "level" in metrics:
        values["level"] = level_for(total_xp(player_id) if xp is None else xp)
    if "adopt_streak" in metrics:
        values["adopt_streak"] = (Adoption.objects.filter(player_id=player_id)
                                  .aggregate(m=Max("best_streak"))["m"] or 0)
    return values


def _quest_done(player_id: int, badge: BadgeDefinition) -> int:
    slug = (badge.params or {}).get("quest")
    qs = PointEvent.objects.filter(player_id=player_id, rule="quest_complete")
    if slug:
        qs = qs.filter(tags__contains=[f"quest:{slug}"])
    return qs.count()


def evaluate(player_id: int, rules: set[str], xp: int | None = None) -> list[BadgeDefinition]:
    """Grant every not-yet-held active badge that events of ``rules`` may have earned; returns new ones."""
    moved = metrics_moved_by(rules)
    candidates = list(BadgeDefinition.objects.filter(active=True, metric__in=moved)
                      .exclude(holders__player_id=player_id))
    if not candidates:
        return []
    values = _metric_values(player_id, {b.metric for b in candidates}, xp)
    earned = []
    for badge in candidates:
        value = _quest_done(player_id, badge) if badge.metric == "quest" else values.get(badge.metric, 0)
        if value >= badge.threshold:
            earned.append(badge)
    return [b for b in earned if grant(player_id, b)]


def grant(player_id: int, badge: BadgeDefinition) -> bool:
    """Give a badge once (safe under concurrency); False if the player already holds it."""
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {PlayerBadge._meta.db_table} (player_id, badge_id, earned_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (player_id, badge_id) DO NOTHING RETURNING id", [player_id, badge.pk, timezone.now()])
        return cur.fetchone() is not None

"""The points ledger: idempotent, concurrency-safe awards, and totals derived from it.

An award is an insert that the unique ``(player, rule, cause)`` refuses for a cause awarded before: the
awards of one operation in one ``INSERT ... ON CONFLICT DO NOTHING`` (:func:`award_many`), a single one
through the ORM (:func:`award`). N concurrent awards of distinct causes give exactly N rows, and a repeated
cause gives none.
Side effects of new rows (badges, level-ups, boards, pushes) are collected in an :class:`AwardBatch`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from .insert_once import insert_once
from .models import PointEvent, TeamMembership

# Points per rule (documented in README.md). Quest rewards come from the quest itself.
POINTS: dict[str, int] = {
    "recording_accepted": 10,
    "new_species": 25,
    "new_cell": 15,
    "rare_species": 20,
    "research_grade": 15,
    "identification_agreed": 5,
    "quiz_answer": 5,
    "daily_streak": 5,
    "hunt_find": 10,
    "timetravel_step": 10,
    "adopt_checkin": 5,
}

_INSERT = (
    f"INSERT INTO {PointEvent._meta.db_table} "
    "(player_id, rule, cause, amount, observation_id, species_label, cell, team_id, tags, created_at) "
    "VALUES {rows} ON CONFLICT (player_id, rule, cause) DO NOTHING RETURNING id, player_id, rule, cause, amount"
)
_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"


@dataclass(frozen=True)
class Award:
    """One award to make in :func:`award_many`."""

    player_id: int
    rule: str
    cause: str
    amount: int | None = None
    observation_id: int | None = None
    species_label: str = ""
    cell: str = ""
    tags: tuple[str, ...] = ()
    team_id: int | None = None


@dataclass
class AwardBatch:
    """New ledger rows of one operation, for the follow-ups (badges, boards), and its realtime messages."""

    events: list[PointEvent] = field(default_factory=list)
    teams: dict[int, int | None] = field(default_factory=dict)  # player -> team, looked up once
    messages: list[tuple[str, dict]] = field(default_factory=list)  # (group, message), sent after commit
    pending: list[Award] = field(default_factory=list)  # deferred (quest points): inserted with others, or by settle

    def players(self) -> set[int]:
        return {e.player_id for e in self.events}

    def take_pending(self) -> list[Award]:
        pending, self.pending = self.pending, []
        return pending

    def team(self, player_id: int) -> int | None:
        """The player's team, looked up once per batch."""
        if player_id not in self.teams:
            self.teams[player_id] = team_of(player_id)
        return self.teams[player_id]


def team_of(player_id: int) -> int | None:
    return TeamMembership.objects.filter(player_id=player_id).values_list("team_id", flat=True).first()


def award(player_id: int, rule: str, cause: str, amount: int | None = None, *, batch: AwardBatch | None = None,
          observation_id: int | None = None, species_label: str = "", cell: str = "", tags: list[str] | None = None,
          team_id: int | None = -1, at: datetime | None = None) -> PointEvent | None:
    """Append one event unless this (player, rule, cause) was awarded before; returns the new row or None.

    ``team_id=-1`` (the default) looks the player's team up; pass None for "no team".
    """
    if team_id == -1:
        team_id = batch.team(player_id) if batch is not None else team_of(player_id)
    event = PointEvent(player_id=player_id, rule=rule, cause=cause[:120],
                       amount=POINTS[rule] if amount is None else int(amount), observation_id=observation_id,
                       species_label=species_label[:120], cell=cell, team_id=team_id, tags=list(tags or []),
                       created_at=at or timezone.now())
    if not insert_once(event, "point_event_one_per_cause"):
        return None
    if batch is not None:
        batch.events.append(event)
    return event


def award_many(awards: list[Award], *, batch: AwardBatch | None = None, at: datetime | None = None) -> list[PointEvent]:
    """Several awards in one multi-row ``INSERT ... ON CONFLICT DO NOTHING``; returns the new rows."""
    if not awards:
        return []
    at = at or timezone.now()
    params: list = []
    rows = []
    for a in awards:
        amount = POINTS[a.rule] if a.amount is None else int(a.amount)
        rows.append(_ROW)
        params += [a.player_id, a.rule, a.cause[:120], amount, a.observation_id, a.species_label[:120], a.cell,
                   a.team_id, json.dumps(list(a.tags)), at]
    with connection.cursor() as cur:
        cur.execute(_INSERT.replace("{rows}", ", ".join(rows)), params)
        inserted = {(r[1], r[2], r[3]): (r[0], r[4]) for r in cur.fetchall()}
    events = []
    for a in awards:
        hit = inserted.pop((a.player_id, a.rule, a.cause[:120]), None)
        if hit is None:
            continue
        events.append(PointEvent(id=hit[0], player_id=a.player_id, rule=a.rule, cause=a.cause[:120], amount=hit[1],
                                 observation_id=a.observation_id, species_label=a.species_label, cell=a.cell,
                                 team_id=a.team_id, tags=list(a.tags), created_at=at))
    if batch is not None:
        batch.events.extend(events)
    return events


def total_xp(player_id: int) -> int:
    return PointEvent.objects.filter(player_id=player_id).aggregate(s=Sum("amount"))["s"] or 0


def totals() -> dict[int, int]:
    """Every player's XP (for rebuilding boards)."""
    return dict(PointEvent.objects.values_list("player_id").annotate(s=Sum("amount")).values_list("player_id", "s"))

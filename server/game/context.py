"""What the award path reads about an accepted observation before writing anything.

The observer's previous observation (impossible travel) and how common the species is come from the
observations app (:func:`server.observations.player_reads.before`, one query); the observer's team,
yesterday's recording (daily streak), a running treasure hunt of the species and the quests the observation
matches from the game's own tables, in one more. Whether the audio is a replay is analysis' decision and
arrives with the event (``RecordingAnalysed.replay``); the game never reads the recordings' table.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection

from server.observations import player_reads
from server.observations.player_reads import PreviousObservation

from .models import Quest
from .rows import from_row

if TYPE_CHECKING:
    from server.observations.models import Observation

RARE_BELOW = 5  # a species with fewer earlier observations than this is rare
# the Quest fields the award path uses; the others load on access
QUEST_FIELDS = ("id", "slug", "title", "target_count", "mode", "step_points", "reward_points", "reward_badge_id",
                "starts_at", "ends_at", "active")

_SQL = f"""
SELECT
  (SELECT m.team_id FROM game_teammembership m WHERE m.player_id = %(player)s ORDER BY m.id LIMIT 1),
  EXISTS (SELECT 1 FROM game_pointevent p WHERE p.player_id = %(player)s AND p.rule = 'recording_accepted'
          AND p.tags @> %(yesterday)s::jsonb),
  (SELECT h.id FROM game_hunt h WHERE h.player_id = %(player)s AND h.species_id = %(species)s
   AND h.started_at <= %(at)s AND h.ends_at >= %(at)s ORDER BY h.id LIMIT 1),
  (SELECT coalesce(json_agg(json_build_array({", ".join("q." + f for f in QUEST_FIELDS)})
                            ORDER BY q.ends_at, q.slug), '[]')
   FROM game_quest q
   WHERE q.active AND q.starts_at <= %(at)s AND q.ends_at >= %(at)s
     AND (q.area IS NULL OR ST_Contains(q.area, ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)))
     AND (NOT EXISTS (SELECT 1 FROM game_quest_species s WHERE s.quest_id = q.id)
          OR EXISTS (SELECT 1 FROM game_quest_species s WHERE s.quest_id = q.id AND s.species_id = %(species)s)))
"""


@dataclass(frozen=True)
class ObservationContext:
    previous: PreviousObservation | None  # the observer's previous recorded observation
    team_id: int | None
    earlier_of_species: int  # other observations of the species, counted up to RARE_BELOW
    recorded_yesterday: bool  # an accepted recording the day before (daily streak)
    hunt_id: int | None  # the observer's running hunt of this species
    quests: list[Quest]  # active quests whose window, area and species hold the observation


def day_tag(day) -> str:
    return f"day:{day.isoformat()}"


def load(obs: Observation) -> ObservationContext:
    """What the award rules read about ``obs`` (see the module docstring): two queries, no write."""
    prior = player_reads.before(obs, count_up_to=RARE_BELOW)
    yesterday = (obs.observed_at - timedelta(days=1)).date()
    params = {
        "player": obs.observer_id, "species": obs.species_id, "at": obs.observed_at,
        "yesterday": json.dumps([day_tag(yesterday)]), "lng": obs.location.x, "lat": obs.location.y,
    }
    with connection.cursor() as cur:
        cur.execute(_SQL, params)
        team_id, streak, hunt_id, quests = cur.fetchone()
    if isinstance(quests, str):
        quests = json.loads(quests)
    return ObservationContext(prior.previous, team_id, prior.earlier_of_species, bool(streak), hunt_id,
                              [_quest(row) for row in quests])


def _quest(row: list) -> Quest:
    values = dict(zip(QUEST_FIELDS, row))
    for name in ("starts_at", "ends_at"):
        values[name] = datetime.fromisoformat(values[name])
    return from_row(Quest, values)

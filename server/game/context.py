"""What the award path reads about an accepted observation before writing anything, in one query.

The observer's previous observation (impossible travel), team, how common the species is,
yesterday's recording (daily streak), a running treasure hunt of the species and the quests the
observation matches, in one round trip. Whether the audio is a replay is analysis' decision and
arrives with the event (``RecordingAnalysed.replay``); the game never reads the recordings' table.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from server.observations.models import Observation

from .models import Quest
from .rows import from_row

RARE_BELOW = 5  # a species with fewer earlier observations than this is rare
# the Quest fields the award path uses; the others load on access
QUEST_FIELDS = ("id", "slug", "title", "target_count", "mode", "step_points", "reward_points", "reward_badge_id",
                "starts_at", "ends_at", "active")

_SQL = f"""
SELECT
  prev.id, prev.lng, prev.lat, prev.observed_at, prev.uncertainty,
  (SELECT m.team_id FROM game_teammembership m WHERE m.player_id = %(player)s ORDER BY m.id LIMIT 1),
  (SELECT count(*) FROM (SELECT 1 FROM observations_observation e
                         WHERE e.species_id = %(species)s AND e.id <> %(obs)s LIMIT {RARE_BELOW}) earlier),
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
FROM (SELECT 1) one
LEFT JOIN LATERAL (
  SELECT o.id, ST_X(o.location) AS lng, ST_Y(o.location) AS lat, o.observed_at,
         o.coordinate_uncertainty_m AS uncertainty
  FROM observations_observation o
  WHERE %(recorded_obs)s AND o.observer_id = %(player)s AND o.recording_id IS NOT NULL
    AND o.observed_at <= %(at)s AND o.id <> %(obs)s
  ORDER BY o.observed_at DESC, o.id DESC LIMIT 1) prev ON true
"""


@dataclass(frozen=True)
class PreviousObservation:
    id: int
    lat: float
    lng: float
    observed_at: datetime
    coordinate_uncertainty_m: float | None


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
    yesterday = (obs.observed_at - timedelta(days=1)).date()
    params = {
        "recorded_obs": obs.recording_id is not None, "player": obs.observer_id, "obs": obs.pk,
        "species": obs.species_id, "at": obs.observed_at, "yesterday": json.dumps([day_tag(yesterday)]),
        "lng": obs.location.x, "lat": obs.location.y,
    }
    with connection.cursor() as cur:
        cur.execute(_SQL, params)
        (prev_id, prev_lng, prev_lat, prev_at, prev_unc, team_id, earlier, streak, hunt_id,
         quests) = cur.fetchone()
    previous = None if prev_id is None else PreviousObservation(prev_id, prev_lat, prev_lng, prev_at, prev_unc)
    if isinstance(quests, str):
        quests = json.loads(quests)
    return ObservationContext(previous, team_id, earlier, bool(streak), hunt_id,
                              [_quest(row) for row in quests])


def _quest(row: list) -> Quest:
    values = dict(zip(QUEST_FIELDS, row))
    for name in ("starts_at", "ends_at"):
        values[name] = datetime.fromisoformat(values[name])
    return from_row(Quest, values)

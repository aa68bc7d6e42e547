"""Anti-cheating: impossible travel.

(Per-player rate limits are DRF throttles with scopes, ``server/platform/throttling.py``; the signed
recording session token lives with ingest, in ``server/recordings/session_token.py``; replayed audio is
analysis' decision, ``server.recordings.outcome.replayed``, and earns nothing: ``consequences``.)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import context
from .context import ObservationContext
from .geo import speed_m_s
from .models import PlayerFlag

if TYPE_CHECKING:
    from server.observations.models import Observation

MAX_SPEED_M_S = 90.0  # ~324 km/h: faster than any car or train between two submissions
MIN_HOP_M = 1_000.0   # hops shorter than this (beyond GPS accuracy) are never "impossible"


def impossible_travel(obs: Observation, ctx: ObservationContext | None = None) -> PlayerFlag | None:
    """Flag the observer when reaching this observation from their previous one needs > MAX_SPEED_M_S."""
    if obs.observer_id is None or obs.recording_id is None:
        return None
    prev = (ctx or context.load(obs)).previous
    if prev is None:
        return None
    slack = (prev.coordinate_uncertainty_m or 0.0) + (obs.coordinate_uncertainty_m or 0.0) + MIN_HOP_M
    speed = speed_m_s((prev.lat, prev.lng, prev.observed_at),
                      (obs.location.y, obs.location.x, obs.observed_at), slack_m=slack)
    if speed <= MAX_SPEED_M_S:
        return None
    flag, _ = PlayerFlag.objects.get_or_create(
        reason="impossible_travel", observation=obs,
        defaults={"player_id": obs.observer_id, "details": {
            "previous_observation": prev.id, "speed_m_s": None if speed == float("inf") else round(speed, 1)}})
    return flag

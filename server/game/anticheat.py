"""Anti-cheating: per-player rate limits and impossible travel.

(The signed recording session token lives with ingest, in ``server/recordings/session_token.py``; replayed
audio is analysis' decision, ``server.recordings.outcome.replayed``, and earns nothing: ``consequences``.)
"""
from __future__ import annotations

from django.conf import settings
from rest_framework import status

from server.common.errors import ApiError
from server.observations.models import Observation

from . import context
from .context import ObservationContext
from .geo import speed_m_s
from .leaderboards import client
from .models import PlayerFlag

MAX_SPEED_M_S = 90.0  # ~324 km/h: faster than any car or train between two submissions
MIN_HOP_M = 1_000.0   # hops shorter than this (beyond GPS accuracy) are never "impossible"
# action -> (limit, window seconds); settings.DAWN_GAME_RATE_LIMITS may override
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "session_token": (120, 3600),
    "identification": (200, 3600),
    "quiz": (60, 3600),
    "game_write": (120, 3600),
}


def rate_limit(player_id: int, action: str) -> None:
    """Count one ``action`` in a fixed window; over the limit is a 429 ``rate_limited``."""
    limit, window = {**RATE_LIMITS, **getattr(settings, "DAWN_GAME_RATE_LIMITS", {})}[action]
    key = f"dawn:rl:{action}:{player_id}"
    pipe = client().pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, window, nx=True)
    count = pipe.execute()[0]
    if count > limit:
        raise ApiError("rate_limited", f"Too many {action.replace('_', ' ')} requests; try again later.",
                       status.HTTP_429_TOO_MANY_REQUESTS, fields={"limit": f"{limit} per {window} s"})


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

"""Live map pushes: observations go to channel groups named after the grid cells they fall in.

A ``/ws/map/`` client subscribes to a bbox; the consumer joins the groups of the cells covering
it (1° cells for small boxes, 10° cells for large ones) and filters exactly by bbox. The channel
message carries both positions; the consumer sends each client only what it may see.
"""
from __future__ import annotations

import math

from django.db import transaction

from server.realtime import events

FINE_DEGREES = 1
COARSE_DEGREES = 10
MAX_FINE_CELLS = 64


def cell_group(level: int, lng: float, lat: float) -> str:
    i, j = math.floor(lng / level), math.floor(lat / level)
    return f"map.c{level}.{i}.{j}".replace("-", "m")


def groups_for_point(lng: float, lat: float) -> list[str]:
    return [cell_group(FINE_DEGREES, lng, lat), cell_group(COARSE_DEGREES, lng, lat)]


def groups_for_bbox(west: float, south: float, east: float, north: float) -> list[str]:
    """Groups covering the bbox: fine cells when few enough, else coarse ones."""
    level = FINE_DEGREES
    if (math.floor(east) - math.floor(west) + 1) * (math.floor(north) - math.floor(south) + 1) > MAX_FINE_CELLS:
        level = COARSE_DEGREES
    names = []
    for i in range(math.floor(west / level), math.floor(min(east, 179.999999) / level) + 1):
        for j in range(math.floor(south / level), math.floor(min(north, 89.999999) / level) + 1):
            names.append(f"map.c{level}.{i}.{j}".replace("-", "m"))
    return names


def feature(obs, point) -> dict:
    return {"type": "Feature", "id": obs.pk,
            "geometry": {"type": "Point", "coordinates": [round(point.x, 6), round(point.y, 6)]},
            "properties": {"id": obs.pk, "species": obs.species.label, "common_name": obs.species.common_name,
                           "status": obs.status, "confidence": obs.confidence,
                           "observed_at": obs.observed_at.isoformat()}}


def map_message(obs, event: str) -> dict:
    """The channel-layer message (internal): both positions, the owner, the obscured flag.

    An obscured observation has no public feature: pushed live, its arrival would date it to the
    second (the public gets its date only), so only researchers and its owner receive it."""
    return {"type": "map.observation", "event": event, "owner_id": obs.observer_id, "obscured": obs.obscured,
            "public": None if obs.obscured else feature(obs, obs.public_location),
            "true": feature(obs, obs.location)}


def publish(obs, event: str = "observation.created") -> None:
    """Hand the message for the point's cell groups to the publisher (never waits for Redis)."""
    message = map_message(obs, event)
    events.send_nowait([(group, message) for group in groups_for_point(obs.public_location.x, obs.public_location.y)],
                       on_error=events.log_failure)


def publish_after_commit(obs, event: str) -> None:
    transaction.on_commit(lambda: publish(obs, event))

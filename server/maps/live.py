"""Live map pushes: observations go to channel groups named after the grid cells they fall in.

A ``/ws/map/`` client subscribes to a bbox; the consumer joins the groups of the cells covering
it (1° cells for small boxes, 10° cells for large ones) and filters exactly by bbox. The channel
message (``map.observation``, internal) carries both positions; the consumer sends each client only
what it may see (see consumers.py). The messages leave through the one realtime publisher
(``server.realtime.publish``); their client-side schema is in ``docs/realtime.md``.

Two sources: an accepted recording's :class:`~server.recordings.events.RecordingAnalysed`
(``observation.created``, :func:`publish_decided`) and a targeted update of a saved observation
(``observation.changed``, :func:`publish`, from receivers.py).
"""
from __future__ import annotations

import math

from django.db import transaction

from server.realtime import publish as realtime
from server.recordings.events import DecidedObservation, Point, decided_observation

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


def feature(obs: DecidedObservation, point: Point) -> dict:
    return {"type": "Feature", "id": obs.id,
            "geometry": {"type": "Point", "coordinates": [round(point.lng, 6), round(point.lat, 6)]},
            "properties": {"id": obs.id, "species": obs.species_label, "common_name": obs.common_name,
                           "status": obs.status, "confidence": obs.confidence,
                           "observed_at": obs.observed_at.isoformat()}}


def map_message(obs: DecidedObservation, owner_id: int | None, event: str) -> dict:
    """The channel-layer message (internal): both positions, the owner, the obscured flag.

    An obscured observation has no public feature: pushed live, its arrival would date it to the
    second (the public gets its date only), so only researchers and its owner receive it."""
    return {"type": "map.observation", "event": event, "owner_id": owner_id, "obscured": obs.obscured,
            "public": None if obs.obscured else feature(obs, obs.public_point),
            "true": feature(obs, obs.true_point)}


def publish_decided(obs: DecidedObservation, owner_id: int | None, event: str = "observation.created") -> None:
    """Hand the message for the public point's cell groups to the realtime publisher (never waits, never
    raises)."""
    message = map_message(obs, owner_id, event)
    realtime.send([(group, message) for group in groups_for_point(obs.public_point.lng, obs.public_point.lat)])


def publish(obs, event: str = "observation.changed") -> None:
    """Push a saved Observation (in the event's shape, see :func:`publish_decided`)."""
    publish_decided(decided_observation(obs), obs.observer_id, event)


def publish_after_commit(obs, event: str) -> None:
    transaction.on_commit(lambda: publish(obs, event))

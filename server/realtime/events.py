"""Realtime messages pushed through the Channels layer (Redis).

Groups: ``user.<id>`` receives the player's own recording outcomes; ``map`` receives new
observations with their *public* position (never the true one of a sensitive species).
"""
from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

MAP_GROUP = "map"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def recording_message(rec) -> dict:
    return {"type": "recording.update", "recording": {
        "id": str(rec.pk), "status": rec.status, "reject_code": rec.reject_code,
        "reject_reason": rec.reject_reason,
        "observation": getattr(getattr(rec, "observation", None), "pk", None)}}


def observation_message(obs) -> dict:
    return {"type": "observation.created", "observation": {
        "id": obs.pk, "species": obs.species.label, "common_name": obs.species.common_name,
        "status": obs.status, "confidence": obs.confidence, "observed_at": obs.observed_at.isoformat(),
        "geometry": {"type": "Point", "coordinates": [obs.public_location.x, obs.public_location.y]},
        "obscured": obs.obscured}}


def send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def publish_recording(rec) -> None:
    send(user_group(rec.owner_id), recording_message(rec))


def publish_observation(obs) -> None:
    send(MAP_GROUP, observation_message(obs))

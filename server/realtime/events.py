"""Realtime messages pushed through the Channels layer (Redis).

Groups: ``user.<id>`` receives the player's own recording outcomes; ``map`` receives new
observations with their *public* position, except obscured ones (their arrival would date them to the
second; the public gets their date only).
"""
from __future__ import annotations

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

from .outbox import OnError, Outbox, live_groups

log = logging.getLogger(__name__)
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


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    """One long-lived event loop per process, so the layer's Redis connections are reused.

    (``async_to_sync`` from a worker thread would open a new loop, and so new connections,
    for every message.)
    """
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="realtime-publisher", daemon=True).start()
        return _loop


_outbox = Outbox(_background_loop)


def send_nowait(messages: list[tuple[str, dict]], on_error: OnError | None = None) -> None:
    """Publish (group, message) pairs without waiting for Redis, with one wake-up of the publisher;
    failures go to ``on_error``; never raises. Messages for groups nobody listens to are dropped first (one
    pipelined Redis round trip from the calling thread, see outbox.live_groups): a group_send costs
    the publisher thread, which shares the GIL with the caller, far more than that check."""
    if get_channel_layer() is None or not messages:
        return
    try:
        live = live_groups({g for g, _ in messages})
    except Exception as exc:  # Redis down: realtime is best effort, the state is stored
        log.warning("realtime pushes (%d) dropped: %s", len(messages), exc)
        return
    _outbox.put([(g, m, on_error) for g, m in messages if live is None or g in live])


def log_failure(group: str, message: dict, exc: BaseException) -> None:
    """Realtime is best effort: the state is stored and clients can poll it."""
    log.warning("realtime %s to %s failed: %s", message.get("type"), group, exc)


def publish_outcome(rec, observation=None) -> None:
    """The owner's ``recording.update`` and, when it was accepted, the public ``observation.created``."""
    messages = [(user_group(rec.owner_id), recording_message(rec))]
    if observation is not None and not observation.obscured:  # an obscured one's push would date it to the second
        messages.append((MAP_GROUP, observation_message(observation)))
    send_nowait(messages, on_error=log_failure)

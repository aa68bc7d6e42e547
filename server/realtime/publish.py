"""The one publisher: the only code that sends messages to client groups (``group_send``).

Other apps hand it ``(group, message)`` pairs through :func:`send` (or :func:`to_player`); every
message is a JSON object whose ``type`` names its schema (``docs/realtime.md`` lists each type, its
fields and its socket). Groups: ``user.<id>`` (a player's own stream, :func:`user_group`), the
leaderboards' groups (``server.game.boards``) and the live map's cell groups (``server.maps.live``).

Pushes are best effort: the state they announce is stored and clients can poll it. :func:`send`
never raises and never waits for Redis; a failed push is logged.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

from channels.layers import get_channel_layer

from .outbox import Outbox

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """A player's own stream (only that player's sockets join it)."""
    return f"user.{user_id}"


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


def log_failure(group: str, message: dict, exc: BaseException) -> None:
    """Realtime is best effort: the state is stored and clients can poll it."""
    log.warning("realtime %s to %s failed: %s", message.get("type"), group, exc)


def send(messages: Iterable[tuple[str, dict]]) -> None:
    """Publish (group, message) pairs through the channel layer's ``group_send`` without waiting for
    Redis, with one wake-up of the publisher; never raises."""
    messages = list(messages)
    try:
        if get_channel_layer() is None or not messages:
            return
        _outbox.put([(g, m, log_failure) for g, m in messages])
    except Exception as exc:  # Redis down, a broken layer: realtime is best effort, the state is stored
        log.warning("realtime pushes (%d) dropped: %s", len(messages), exc)


def to_player(user_id: int, message: dict) -> None:
    """Publish ``message`` to the player's own stream (best effort, like :func:`send`)."""
    send([(user_group(user_id), message)])

"""Realtime game messages, sent after the transaction commits (never failing the caller)."""
from __future__ import annotations

import logging

from django.db import transaction

from server.realtime.events import send_nowait, user_group

from .boards import group_for

log = logging.getLogger(__name__)


def send_now(group: str, message: dict) -> None:
    """Hand the message to the publisher loop without waiting: awarding never waits for Redis."""
    def failed(exc: BaseException) -> None:  # the state is stored; clients can poll it
        log.warning("realtime push %s to %s failed: %s", message.get("type"), group, exc)

    try:
        send_nowait(group, message, on_error=failed)
    except Exception as exc:
        failed(exc)


def after_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: send_now(group, message))


def to_player(player_id: int, message: dict) -> None:
    after_commit(user_group(player_id), message)


def board_changed(board: str, changes: dict[int, float]) -> None:
    """Tell a board's subscribers which players' scores changed (called after commit)."""
    send_now(group_for(board), {"type": "leaderboard.changed", "board": board,
                                "changes": [{"player": p, "score": int(s)} for p, s in changes.items()]})

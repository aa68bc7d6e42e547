"""Realtime game messages, sent after the transaction commits (never failing the caller).

The messages of one award are collected in its :class:`AwardBatch` and handed to the one realtime
publisher together after commit (:func:`publish`, ``server.realtime.publish.send``). Their types and
fields are documented in ``docs/realtime.md``.
"""
from __future__ import annotations

from server.realtime import publish as realtime
from server.realtime.publish import user_group

from .boards import group_for
from .ledger import AwardBatch


def to_player(batch: AwardBatch, player_id: int, message: dict) -> None:
    """Send ``message`` to the player's stream when the batch's transaction commits."""
    batch.messages.append((user_group(player_id), message))


def board_changed(board: str, changes: dict[int, float]) -> tuple[str, dict]:
    """The message telling a board's subscribers which players' scores changed."""
    return group_for(board), {"type": "leaderboard.changed", "board": board,
                              "changes": [{"player": p, "score": int(s)} for p, s in changes.items()]}


def publish(messages: list[tuple[str, dict]]) -> None:
    """Hand (group, message) pairs to the realtime publisher (called after commit); awarding never
    waits for the sends, and a failed one is only logged."""
    realtime.send(messages)

"""Settle a batch of new ledger events: badges, level-ups, boards and realtime pushes."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from . import badges, leaderboards, push
from .ledger import AwardBatch, award_many
from .levels import level_info

log = logging.getLogger(__name__)


@dataclass
class PlayerOutcome:
    points: int = 0
    badges: list[str] = field(default_factory=list)
    level_before: int = 1
    level: int = 1


def settle(batch: AwardBatch) -> dict[int, PlayerOutcome]:
    """Insert the batch's pending awards, evaluate badges and levels for its players; after commit,
    update the boards and send the batch's messages (one publish)."""
    if batch.pending:
        award_many(batch.take_pending(), batch=batch)
    outcomes: dict[int, PlayerOutcome] = {}
    by_player: dict[int, list] = defaultdict(list)
    for event in batch.events:
        by_player[event.player_id].append(event)
    for player_id, events in by_player.items():
        gained = sum(e.amount for e in events)
        evaluation = badges.evaluate(player_id, {e.rule for e in events})
        xp, new_badges = evaluation.xp, evaluation.earned
        before, after = level_info(xp - gained), level_info(xp)
        outcomes[player_id] = PlayerOutcome(gained, [b.slug for b in new_badges], before.level, after.level)
        push.to_player(batch, player_id, {
            "type": "points.awarded", "points": gained, "xp": xp,
            "events": [{"rule": e.rule, "amount": e.amount, "cause": e.cause} for e in events]})
        for badge in new_badges:
            push.to_player(batch, player_id, {"type": "badge.earned", "badge": {
                "slug": badge.slug, "name": badge.name, "description": badge.description}})
        if after.level > before.level:
            push.to_player(batch, player_id, {"type": "level.up", "level": after.level, "title": after.title,
                                              "unlocked": list(after.unlocked), "next_level_xp": after.next_level_xp})
    if batch.events or batch.messages:
        events, messages = list(batch.events), list(batch.messages)
        transaction.on_commit(lambda: push.publish(messages + update_boards(events)))
    return outcomes


def update_boards(events) -> list[tuple[str, dict]]:
    """Apply committed events to Redis boards (best effort); returns the messages for board subscribers."""
    if not events:
        return []
    try:
        changed, unnamed = leaderboards.apply_events(events)
        if unnamed:
            leaderboards.cache_names(dict(get_user_model().objects.filter(pk__in=unnamed)
                                          .values_list("id", "username")))
    except Exception as exc:  # Redis down: `rebuild_leaderboards` restores the boards from the ledger
        log.warning("leaderboard update failed (%s); rebuild with manage.py rebuild_leaderboards", exc)
        return []
    return [push.board_changed(board, changes) for board, changes in changed.items()]

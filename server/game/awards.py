"""Settle a batch of new ledger events: badges, level-ups, boards and realtime pushes."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from . import badges, leaderboards, push
from .ledger import AwardBatch, total_xp
from .levels import level_info

log = logging.getLogger(__name__)


@dataclass
class PlayerOutcome:
    points: int = 0
    badges: list[str] = field(default_factory=list)
    level_before: int = 1
    level: int = 1


def settle(batch: AwardBatch) -> dict[int, PlayerOutcome]:
    """Evaluate badges and levels for the batch's players and schedule boards and pushes after commit."""
    outcomes: dict[int, PlayerOutcome] = {}
    by_player: dict[int, list] = defaultdict(list)
    for event in batch.events:
        by_player[event.player_id].append(event)
    for player_id, events in by_player.items():
        gained = sum(e.amount for e in events)
        xp = total_xp(player_id)
        before, after = level_info(xp - gained), level_info(xp)
        new_badges = badges.evaluate(player_id, {e.rule for e in events}, xp=xp)
        outcomes[player_id] = PlayerOutcome(gained, [b.slug for b in new_badges], before.level, after.level)
        push.to_player(player_id, {"type": "points.awarded", "points": gained, "xp": xp,
                                   "events": [{"rule": e.rule, "amount": e.amount, "cause": e.cause} for e in events]})
        for badge in new_badges:
            push.to_player(player_id, {"type": "badge.earned", "badge": {
                "slug": badge.slug, "name": badge.name, "description": badge.description}})
        if after.level > before.level:
            push.to_player(player_id, {"type": "level.up", "level": after.level, "title": after.title,
                                       "unlocked": list(after.unlocked), "next_level_xp": after.next_level_xp})
    if batch.events:
        events = list(batch.events)
        transaction.on_commit(lambda: update_boards(events))
    return outcomes


def update_boards(events) -> None:
    """Apply committed events to Redis boards and notify board subscribers (best effort)."""
    try:
        missing = leaderboards.players_without_name({e.player_id for e in events})
        names = dict(get_user_model().objects.filter(pk__in=missing).values_list("id", "username")) if missing else {}
        changed = leaderboards.apply_events(events, names)
    except Exception as exc:  # Redis down: `rebuild_leaderboards` restores the boards from the ledger
        log.warning("leaderboard update failed (%s); rebuild with manage.py rebuild_leaderboards", exc)
        return
    for board, changes in changed.items():
        push.board_changed(board, changes)

"""Celery tasks of the game app."""
from __future__ import annotations

from celery import shared_task

from .leaderboards import rebuild


@shared_task(name="game.rebuild_leaderboards", acks_late=True)
def rebuild_leaderboards() -> int:
    """Restore every Redis board from the ledger (after a Redis restart or a missed update)."""
    return rebuild()

"""Celery tasks of the game app."""
from __future__ import annotations

from celery import shared_task

from .leaderboards import rebuild
from .reconcile import reconcile_awards as reconcile


@shared_task(name="game.rebuild_leaderboards", acks_late=True)
def rebuild_leaderboards() -> int:
    """Restore every Redis board from the ledger (after a Redis restart or a missed update)."""
    return rebuild()


@shared_task(name="game.reconcile_awards", acks_late=True)
def reconcile_awards() -> int:
    """Award the recently accepted observations whose analysis event never reached the game (reconcile.py)."""
    return len(reconcile())

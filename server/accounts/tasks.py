"""Celery tasks of the accounts app."""
from __future__ import annotations

from celery import shared_task

from .tokens import purge_expired


@shared_task(name="accounts.purge_expired")
def purge_expired_credentials() -> dict[str, int]:
    """Hourly: drop expired API tokens and login failures past their cool-off (see tokens.purge_expired)."""
    return purge_expired()

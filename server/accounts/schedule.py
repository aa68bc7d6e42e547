"""Periodic tasks of the accounts app (merged into CELERY_BEAT_SCHEDULE by settings)."""
from datetime import timedelta

BEAT_SCHEDULE = {
    "purge-expired-credentials": {"task": "accounts.purge_expired", "schedule": timedelta(hours=1)},
}

"""Periodic tasks of the recordings app (merged into CELERY_BEAT_SCHEDULE by settings)."""
from datetime import timedelta

BEAT_SCHEDULE = {
    "sweep-orphan-audio": {"task": "recordings.sweep_orphans", "schedule": timedelta(minutes=15)},
}

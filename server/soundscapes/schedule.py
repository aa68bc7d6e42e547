"""Periodic soundscape tasks, merged into Celery beat by server/settings.py."""
from datetime import timedelta

BEAT_SCHEDULE = {
    "soundscapes-rebuild-live": {"task": "soundscapes.rebuild_live", "schedule": timedelta(minutes=5)},
    "soundscapes-render-mixes": {"task": "soundscapes.render_mixes", "schedule": timedelta(minutes=30)},
}

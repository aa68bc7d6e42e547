"""Celery beat entries of the map (merged by server/settings.py)."""
REFRESH_EVERY_S = 5.0  # the journal refresh; writes also request one on commit (server/maps/receivers.py)

BEAT_SCHEDULE = {
    "maps-refresh-summary": {"task": "maps.refresh_summary", "schedule": REFRESH_EVERY_S,
                             "options": {"expires": 2 * REFRESH_EVERY_S}},
}

"""Celery beat entries of the game app (merged by server/settings.py)."""
BEAT_SCHEDULE = {
    "game-rebuild-leaderboards": {"task": "game.rebuild_leaderboards", "schedule": 6 * 3600.0},
}

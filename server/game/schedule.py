"""Celery beat entries of the game app (merged by server/settings.py)."""
RECONCILE_EVERY_S = 60.0  # reconcile.reconcile_awards: well inside its window (reconcile.WINDOW)

BEAT_SCHEDULE = {
    "game-rebuild-leaderboards": {"task": "game.rebuild_leaderboards", "schedule": 6 * 3600.0},
    "game-reconcile-awards": {"task": "game.reconcile_awards", "schedule": RECONCILE_EVERY_S,
                              "options": {"expires": RECONCILE_EVERY_S}},
}

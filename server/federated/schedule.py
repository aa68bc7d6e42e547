"""Celery beat entries of the federated app (merged by server/settings.py)."""
BEAT_SCHEDULE = {
    "federated-close-due-rounds": {"task": "federated.close_due_rounds", "schedule": 60.0},
    "federated-open-scheduled-rounds": {"task": "federated.open_scheduled_rounds", "schedule": 300.0},
}

"""The soundscapes' receivers: an accepted recording makes its cell's soundscape stale (the cell of the
observation's public position), on the analysis event; a deleted (withdrawn) observation leaves the
soundscapes once the deletion commits (``post_delete`` of ``observations.Observation``)."""
from __future__ import annotations

from django.db import transaction

from server.recordings.events import RecordingAnalysed


def on_recording_analysed(sender, event: RecordingAnalysed, **kwargs) -> None:
    from .services import mark_stale

    obs = event.observation
    if obs is not None:
        mark_stale(obs.public_point.lng, obs.public_point.lat, obs.observed_at)


def on_observation_deleted(sender, instance, **kwargs) -> None:
    point, observed_at = instance.public_location, instance.observed_at
    if point is None or observed_at is None:
        return
    lng, lat, recording_id = point.x, point.y, instance.recording_id

    def forget() -> None:
        from .services import forget_observation

        forget_observation(lng, lat, observed_at, recording_id)

    transaction.on_commit(forget)

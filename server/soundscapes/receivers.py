"""The soundscapes' subscriber of the analysis event: an accepted recording makes its cell's soundscape
stale (the cell of the observation's public position)."""
from __future__ import annotations

from server.recordings.events import RecordingAnalysed


def on_recording_analysed(sender, event: RecordingAnalysed, **kwargs) -> None:
    from .services import mark_stale

    obs = event.observation
    if obs is not None:
        mark_stale(obs.public_point.lng, obs.public_point.lat, obs.observed_at)

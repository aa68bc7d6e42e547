"""The owner's ``recording.update``: realtime's subscriber of the analysis event.

One message per analysed recording, to its owner's stream, with the observation (public point and
published time only) when it was accepted. Schema: ``docs/realtime.md``.
"""
from __future__ import annotations

from server.recordings.events import DecidedObservation, RecordingAnalysed

from .publish import to_player


def observation_summary(obs: DecidedObservation) -> dict:
    """What the owner's stream shows of the accepted observation: public point, published time."""
    return {"id": obs.id, "species": obs.species_label, "common_name": obs.common_name, "status": obs.status,
            "confidence": obs.confidence, "observed_at": obs.published_observed_at,
            "geometry": {"type": "Point", "coordinates": [obs.public_point.lng, obs.public_point.lat]},
            "obscured": obs.obscured}


def recording_message(event: RecordingAnalysed) -> dict:
    """``recording.update``: the recording's outcome; ``observation`` is None when it was rejected."""
    observation = event.observation
    return {"type": "recording.update",
            "recording": {"id": event.recording_id, "status": event.status, "reject_code": event.reject_code,
                          "reject_reason": event.reject_reason,
                          "observation": None if observation is None else observation.id},
            "observation": None if observation is None else observation_summary(observation)}


def on_recording_analysed(sender, event: RecordingAnalysed, **kwargs) -> None:
    """Tell the owner (best effort: never raises)."""
    to_player(event.owner_id, recording_message(event))

"""Helpers for game tests: accepted observations made the way the pipeline makes them."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from django.contrib.gis.geos import Point
from django.db import transaction

from ml.runtime.audio import probe
from server.maps.public_clip_backfill import build_public_clip
from server.observations.models import Observation
from server.observations.services import build_observation
from server.recordings import storage
from server.recordings.events import RecordingAnalysed, decided_observation, dispatch
from server.recordings.models import Recording, Status
from server.species.models import Species


def midday() -> datetime:
    """The latest past 16:00 UTC (midday in Puerto Rico): neither dawn nor night, whenever the test runs,
    so the dawn-chorus and night-owl badges stay out of tests that count every badge."""
    now = datetime.now(timezone.utc)
    noon = now.replace(hour=16, minute=0, second=0, microsecond=0)
    return noon if noon < now else noon - timedelta(days=1)


def accept(player, clip, *, label: str | None = None, lat: float = 18.30, lng: float = -65.78,
           when: datetime | None = None, confidence: float = 0.8, accuracy_m: float = 8.0,
           signal: bool = True) -> Observation:
    """Store the clip, create an accepted Recording and its Observation, and once committed hand the analysis
    event to its subscribers (as recordings.outcome.apply_outcome does; not with ``signal=False``)."""
    when = when or datetime.now(timezone.utc) - timedelta(minutes=5)
    info = probe(clip.data)
    _, rel = storage.store_blob(clip.data, info.format)
    species = Species.objects.get(label=label or clip.label)
    with transaction.atomic():
        rec = Recording.objects.create(
            owner=player, idempotency_key=uuid.uuid4().hex, audio_sha256=uuid.uuid4().hex + uuid.uuid4().hex,
            audio_path=rel, audio_format=info.format, audio_bytes=len(clip.data), sample_rate=info.sample_rate,
            channels=info.channels, duration_s=info.duration, recorded_at=when, location=Point(lng, lat, srid=4326),
            accuracy_m=accuracy_m, segment_start_s=0.0, segment_end_s=min(3.0, info.duration),
            claimed_species=species, status=Status.ACCEPTED, analysed_at=datetime.now(timezone.utc))
        obs = build_observation(species=species, location=rec.location, seed=f"rec:{rec.pk}", recording=rec,
                                observer=player, observed_at=when, confidence=confidence,
                                coordinate_uncertainty_m=accuracy_m, status="needs_id", recordist=player.username)
        obs.save()
    if signal:
        dispatch(analysed_event(obs))
    build_public_clip(obs)   # analysis makes it (recordings.outcome); the game plays only public clips
    return obs


def analysed_event(obs: Observation, replay: bool = False) -> RecordingAnalysed:
    """The event analysis sends for an accepted recording's observation ``obs``."""
    return RecordingAnalysed(recording_id=str(obs.recording_id), owner_id=obs.observer_id, status=Status.ACCEPTED,
                             reject_code="", reject_reason="", replay=replay, observation=decided_observation(obs))

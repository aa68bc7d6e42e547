"""Public clips made from an observation's stored audio: for observations that predate analysis-time
clips, imported xeno-canto observations, and after a licence change.

The source is the private audio :func:`media.audio_file` finds (the app recording's stored,
speech-muted file, or the local copy of an imported clip). The clip is the marked segment of an
app recording, or the first ``IMPORTED_CLIP_S`` seconds of an imported one, at the analysis rate
(``CLIP_RATE``: Opus decodes and encodes it natively); speech is detected and muted again on the
clip itself, so a file stored before speech muting existed is covered too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from ml.runtime import reencode, speech
from ml.runtime.audio import AudioError, decode
from server.observations import public_clips
from server.observations.public_reads import all_observations

from .media import audio_file

if TYPE_CHECKING:
    from server.observations.models import Observation

log = logging.getLogger(__name__)
IMPORTED_CLIP_S = 10.0
CLIP_RATE = 24_000


@dataclass
class BackfillCounts:
    made: int = 0
    kept: int = 0        # already had a clip
    removed: int = 0     # licence no longer allows one
    no_audio: int = 0    # not publishable, no local audio, or undecodable

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def clip_bytes(obs: Observation) -> bytes | None:
    """The public clip of ``obs`` made from its private audio, or None when there is none to make."""
    source = audio_file(obs)
    if source is None:
        return None
    try:
        samples, sr = decode(source.read_bytes(), sample_rate=CLIP_RATE)
    except (AudioError, OSError) as exc:
        log.warning("no public clip for observation %s: %s", obs.pk, exc)
        return None
    if obs.recording_id is not None:
        start, end = obs.recording.segment_start_s, obs.recording.segment_end_s
    else:
        start, end = 0.0, IMPORTED_CLIP_S
    lo, hi = reencode.clip_span(samples.shape[0], sr, start, end)
    span = samples[lo:hi]
    spoken = speech.detect_speech(span, sr).segments
    if spoken:
        span = speech.mute_segments(span, sr, spoken)
    return reencode.public_clip(span, sr)


def build_public_clip(obs: Observation, *, force: bool = False) -> str:
    """Bring ``obs``'s clip in line with its licence: 'made', 'kept', 'removed' or 'no_audio'."""
    if not public_clips.publishable(obs):
        if obs.public_clip_token:
            with transaction.atomic():
                public_clips.detach(obs)
            return "removed"
        return "no_audio"
    if not force and public_clips.clip_name(obs) is not None:
        return "kept"
    data = clip_bytes(obs)
    if data is None:
        return "no_audio"
    with transaction.atomic():
        public_clips.attach(obs, data)
    return "made"


def backfill(queryset=None, *, force: bool = False) -> BackfillCounts:
    """Run :func:`build_public_clip` over ``queryset`` (default: every observation); idempotent."""
    counts = BackfillCounts()
    qs = queryset if queryset is not None else all_observations()
    for obs in qs.select_related("recording").order_by("pk").iterator(chunk_size=200):
        result = build_public_clip(obs, force=force)
        setattr(counts, result, getattr(counts, result) + 1)
    return counts

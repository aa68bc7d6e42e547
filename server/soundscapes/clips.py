"""Clips for soundscape sources: a recorded observation's public clip (its marked segment, speech
muted, no tags; ``server.observations.public_clips``) or, when a species has no such observation in
the area, the shipped fixture clip of that species (fixtures/audio), re-encoded so that none of the
file's tags travel. An observation without a public clip (its licence forbids publishing) is skipped.

Clips are Ogg/Opus, content-addressed in the file store (:mod:`server.platform.storage`) under
``soundscapes/clips/``, made once and served immutable, so phones download each clip once and keep it.
"""
from __future__ import annotations

import csv
import hashlib
import logging
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from ml.runtime.audio import AudioError, decode, encode_ogg_opus, probe
from server.observations import public_clips
from server.observations import services as observations
from server.platform import storage as files

from .models import Clip

log = logging.getLogger(__name__)
FIXTURE_AUDIO = Path(settings.BASE_DIR) / "fixtures" / "audio"
CLIP_MAX_S = 10.0
CLIP_SAMPLE_RATE = 48_000


def clip_url(sha: str) -> str:
    return f"/api/v1/soundscapes/clips/{sha}/"


def clip_ref(clip: Clip) -> dict:
    return {"id": clip.pk, "url": clip_url(clip.sha256), "sha256": clip.sha256}


def store(data: bytes) -> tuple[str, str]:
    """Store a clip content-addressed; returns (sha256, stored name)."""
    sha = files.sha256_hex(data)
    rel = f"soundscapes/clips/{sha[:2]}/{sha}.ogg"
    files.put_content_addressed(rel, data)
    return sha, rel


def _save(data: bytes, **fields) -> Clip:
    sha, rel = store(data)
    try:
        with transaction.atomic():
            clip, _ = Clip.objects.get_or_create(sha256=sha, defaults={"path": rel, **fields})
    except IntegrityError:            # a concurrent build made the same clip
        clip = Clip.objects.get(sha256=sha)
    return clip


@lru_cache(maxsize=1)
def fixture_rows() -> dict[str, dict]:
    """Manifest rows of bird fixture clips by lower-case species label (Ogg preferred)."""
    out: dict[str, dict] = {}
    manifest = FIXTURE_AUDIO / "manifest.csv"
    if not manifest.exists():
        return out
    with open(manifest, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] != "bird":
                continue
            key = row["label"].strip().lower()
            if key not in out or (row["file"].endswith(".ogg") and not out[key]["file"].endswith(".ogg")):
                out[key] = row
    return out


@lru_cache(maxsize=64)
def fixture_clip_bytes(name: str) -> bytes:
    """The fixture file re-encoded from its samples (Ogg/Opus, none of the file's tags)."""
    x, sr = decode((FIXTURE_AUDIO / name).read_bytes())
    return encode_ogg_opus(x, sr)


def fixture_clip(species: str) -> Clip | None:
    row = fixture_rows().get(species.strip().lower())
    if row is None or not public_clips.licence_allows(row["license"]):
        return None
    data = fixture_clip_bytes(row["file"])
    info = probe(data)
    return _save(data, kind=Clip.Kind.FIXTURE, fixture_name=row["file"], species_label=row["label"],
                 duration_s=info.duration,
                 attribution={k: row[k] for k in ("recordist", "license", "source_url", "source_id")})


def recording_clip(recording_id: str, species: str) -> Clip | None:
    """The public clip of the recording's observation (its first ``CLIP_MAX_S`` seconds), or None
    where the observation has no public clip."""
    public = observations.recording_public_clip(recording_id)
    if public is None:
        return None
    data = public.data
    try:
        duration = probe(data).duration
        if duration > CLIP_MAX_S:
            x, sr = decode(data, sample_rate=CLIP_SAMPLE_RATE)
            data, duration = encode_ogg_opus(x[:int(CLIP_MAX_S * sr)], sr), CLIP_MAX_S
    except (AudioError, OSError) as exc:
        log.warning("soundscape clip for recording %s unavailable: %s", recording_id, exc)
        return None
    rec_id = public.recording_id
    sha = hashlib.sha256(data).hexdigest()
    existing = Clip.objects.filter(recording_id=rec_id, sha256=sha).first()
    if existing is not None:
        return existing
    for stale in Clip.objects.filter(recording_id=rec_id):   # made from the upload before public clips existed
        files.delete(stale.path)
        stale.delete()
    clip = _save(data, kind=Clip.Kind.RECORDING, recording_id=rec_id, species_label=species, duration_s=duration,
                 attribution={"recordist": public.recordist, "source": "Dawn Chorus"})
    if clip.recording_id is None:
        Clip.objects.filter(pk=clip.pk, recording__isnull=True).update(recording_id=rec_id)
    return clip


class ClipResolver:
    """Per build: species + representative recording → clip reference (cached)."""

    def __init__(self) -> None:
        self._by_recording: dict[str, dict | None] = {}
        self._by_species: dict[str, dict | None] = {}

    def __call__(self, species: str, recording_id: str | None) -> dict | None:
        if recording_id is not None:
            if recording_id not in self._by_recording:
                clip = recording_clip(recording_id, species)
                self._by_recording[recording_id] = clip_ref(clip) if clip else None
            if self._by_recording[recording_id] is not None:
                return self._by_recording[recording_id]
        if species not in self._by_species:
            clip = fixture_clip(species)
            self._by_species[species] = clip_ref(clip) if clip else None
        return self._by_species[species]

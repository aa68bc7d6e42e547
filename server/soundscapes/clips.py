"""Clips for soundscape sources: a player's recording (its marked segment) or, when a species
has no recording in the area, the shipped fixture clip of that species (fixtures/audio).

Clips are Ogg/Opus, content-addressed under ``MEDIA_ROOT/soundscapes/clips/``, made once and
served immutable, so phones download each clip once and keep it.
"""
from __future__ import annotations

import csv
import hashlib
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction

from ml.runtime.audio import AudioError, decode, encode_ogg_opus, probe
from ml.runtime.files import atomic_write

from .models import Clip

log = logging.getLogger(__name__)
FIXTURE_AUDIO = Path(settings.BASE_DIR) / "fixtures" / "audio"
CLIP_MARGIN_S = 0.25
CLIP_MAX_S = 10.0
CLIP_SAMPLE_RATE = 48_000


def clip_url(sha: str) -> str:
    return f"/api/v1/soundscapes/clips/{sha}/"


def clip_ref(clip: Clip) -> dict:
    return {"id": clip.pk, "url": clip_url(clip.sha256), "sha256": clip.sha256}


def clip_path(rel: str) -> Path:
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError(f"path escapes the media root: {rel}")
    return path


def store(data: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    rel = f"soundscapes/clips/{sha[:2]}/{sha}.ogg"
    path = clip_path(rel)
    if not (path.exists() and path.stat().st_size == len(data)):
        atomic_write(path, data)
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


def fixture_clip(species: str) -> Clip | None:
    row = fixture_rows().get(species.strip().lower())
    if row is None:
        return None
    existing = Clip.objects.filter(kind=Clip.Kind.FIXTURE, fixture_name=row["file"]).first()
    if existing is not None:
        return existing
    data = (FIXTURE_AUDIO / row["file"]).read_bytes()
    if not row["file"].endswith(".ogg"):
        x, sr = decode(data)
        data = encode_ogg_opus(x, sr)
    info = probe(data)
    return _save(data, kind=Clip.Kind.FIXTURE, fixture_name=row["file"], species_label=row["label"],
                 duration_s=info.duration,
                 attribution={k: row[k] for k in ("recordist", "license", "source_url", "source_id")})


def recording_clip(recording_id: str, species: str) -> Clip | None:
    """The marked segment of a recording as an Ogg/Opus clip (made once)."""
    from server.recordings import storage
    from server.recordings.models import Recording

    existing = Clip.objects.filter(recording_id=recording_id).first()
    if existing is not None:
        return existing
    rec = Recording.objects.filter(pk=recording_id).select_related("owner").first()
    if rec is None:
        return None
    try:
        x, sr = decode(storage.read_blob(rec.audio_path), sample_rate=CLIP_SAMPLE_RATE)
    except (AudioError, OSError, ValueError) as exc:
        log.warning("soundscape clip for recording %s unavailable: %s", recording_id, exc)
        return None
    start = max(0.0, rec.segment_start_s - CLIP_MARGIN_S)
    end = min(rec.segment_end_s + CLIP_MARGIN_S, start + CLIP_MAX_S)
    seg = x[int(start * sr): int(end * sr)]
    if seg.size < sr // 10 or not np.any(seg):
        return None
    data = encode_ogg_opus(seg, sr)
    clip = _save(data, kind=Clip.Kind.RECORDING, recording=rec, species_label=species,
                 duration_s=seg.size / sr,
                 attribution={"recordist": rec.owner.display_name or rec.owner.username,
                              "source": "Dawn Chorus"})
    if clip.recording_id is None:
        Clip.objects.filter(pk=clip.pk, recording__isnull=True).update(recording=rec)
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

"""Where an observation's private audio lives: the app recording's stored blob, or a local copy of
an imported xeno-canto clip (``fixtures/audio`` or the shared data set), else nothing. Only the
owner, researchers and admins hear it (``detail_views``); everyone else gets the public clip
(``server.observations.public_clips``), which ``public_clip_backfill`` makes from this audio.
Spectrograms of public clips are cached in the file store under ``spectrograms/``."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from server.observations.public_reads import Source
from server.platform import storage as files
from server.recordings.private_audio import AudioSource

if TYPE_CHECKING:
    from server.observations.models import Observation


def clip_dirs() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return [base / "fixtures" / "audio", base.parent / "shared" / "data" / "birds-pr" / "audio"]


@lru_cache(maxsize=1)
def _xeno_canto_index() -> dict[str, Path]:
    """xeno-canto id → local file (first match wins: short fixture clips before the shared set)."""
    index: dict[str, Path] = {}
    for folder in clip_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: (p.suffix != ".ogg", p.name)):  # Ogg first: smallest
            m = re.match(r"^XC(\d+)(?:_[a-z_]+)?\.(ogg|flac|wav|mp3)$", path.name)
            if m and not path.stem.endswith("_24k"):
                index.setdefault(m.group(1), path)
    return index


def audio_file(obs: Observation) -> AudioSource | None:
    """The private audio of ``obs`` (stored, or a local imported clip), or ``None``."""
    if obs.recording_id is not None:
        try:
            stored = obs.recording.audio_path
            return AudioSource(stored=stored) if files.exists(stored) else None
        except ValueError:
            return None
    if obs.source == Source.XENO_CANTO and obs.source_id:
        local = _xeno_canto_index().get(obs.source_id)
        return AudioSource(local=local) if local is not None else None
    return None


SPECTROGRAM_VERSION = "v1"


def spectrogram_png(clip: str) -> str:
    """The stored name of the cached spectrogram PNG of the stored public clip ``clip`` (rendered once).

    The cache key is the clip's name and size: a clip is never rewritten under its token (a new
    clip gets a new token), so a cached picture never goes stale."""
    import hashlib

    from ml.runtime.audio import decode

    from .spectrogram import render_png

    key = hashlib.sha256(f"{SPECTROGRAM_VERSION}|{clip}|{files.size(clip)}".encode())
    digest = key.hexdigest()
    target = f"spectrograms/{digest[:2]}/{digest}.png"
    if not files.exists(target):
        samples, sr = decode(files.read(clip))
        files.put(target, render_png(samples, sr))
    return target

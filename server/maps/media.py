"""Where an observation's private audio lives: the app recording's stored blob, or a local copy of
an imported xeno-canto clip (``fixtures/audio`` or the shared data set), else nothing. Only the
owner, researchers and admins hear it (``detail_views``); everyone else gets the public clip
(``server.observations.public_clips``), which ``public_clip_backfill`` makes from this audio."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from server.observations.models import Observation, Source

CONTENT_TYPES = {"ogg": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav", "mp3": "audio/mpeg",
                 "opus": "audio/ogg"}


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


def audio_file(obs: Observation) -> Path | None:
    """The local audio of ``obs``, or ``None``."""
    if obs.recording_id is not None:
        from server.recordings import storage

        try:
            path = storage.absolute(obs.recording.audio_path)
        except ValueError:
            return None
        return path if path.is_file() else None
    if obs.source == Source.XENO_CANTO and obs.source_id:
        return _xeno_canto_index().get(obs.source_id)
    return None


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lstrip(".").lower(), "application/octet-stream")


SPECTROGRAM_VERSION = "v1"


def spectrogram_png(audio: Path) -> Path:
    """The cached spectrogram PNG of ``audio`` under MEDIA_ROOT/spectrograms/ (rendered once)."""
    import hashlib

    from ml.runtime.audio import decode
    from ml.runtime.files import atomic_write

    from .spectrogram import render_png

    stat = audio.stat()
    key = hashlib.sha256(f"{SPECTROGRAM_VERSION}|{audio.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest = key.hexdigest()
    target = Path(settings.MEDIA_ROOT) / "spectrograms" / digest[:2] / f"{digest}.png"
    if not target.is_file():
        samples, sr = decode(audio.read_bytes())
        atomic_write(target, render_png(samples, sr))
    return target

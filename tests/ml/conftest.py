"""Real fixture clips for the runtime tests, read through fixtures/audio/manifest.csv.

The manifest and its clips ship with the repository; when they are missing the tests fail
loudly (never skip), because every check here is about real recordings.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ml.runtime import audio

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_AUDIO = ROOT / "fixtures" / "audio"
FIXTURE_MANIFEST = FIXTURE_AUDIO / "manifest.csv"


def manifest_rows() -> list[dict[str, str]]:
    """Rows of fixtures/audio/manifest.csv; raises when the manifest is missing or empty."""
    if not FIXTURE_MANIFEST.is_file():
        raise FileNotFoundError(f"{FIXTURE_MANIFEST} is missing: the runtime tests need the real fixture clips")
    with open(FIXTURE_MANIFEST, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{FIXTURE_MANIFEST} lists no clips")
    return rows


def find_row(name: str) -> dict[str, str]:
    """The manifest row whose file is ``name`` (or starts with it)."""
    rows = manifest_rows()
    for row in rows:
        if row["file"] == name:
            return row
    for row in rows:
        if row["file"].startswith(name):
            return row
    raise LookupError(f"no clip {name!r} in {FIXTURE_MANIFEST}")


def read_clip(name: str, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a fixture clip (by manifest file name or prefix) to mono float32, optionally resampled."""
    path = FIXTURE_AUDIO / find_row(name)["file"]
    return audio.decode(path.read_bytes(), sample_rate=sample_rate)


@pytest.fixture(scope="session")
def audio_manifest() -> list[dict[str, str]]:
    return manifest_rows()


@pytest.fixture(scope="session")
def load_clip() -> Callable[..., tuple[np.ndarray, int]]:
    """``load_clip(name, sample_rate=None) -> (samples, sr)`` for a clip listed in the manifest."""
    cache: dict[tuple[str, int | None], tuple[np.ndarray, int]] = {}

    def load(name: str, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
        key = (name, sample_rate)
        if key not in cache:
            cache[key] = read_clip(name, sample_rate)
        samples, sr = cache[key]
        return samples.copy(), sr

    return load

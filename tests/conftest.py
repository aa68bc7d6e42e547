"""Shared test helpers: real fixture clips, users per role, and multipart submissions."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = ROOT / "fixtures" / "audio"


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    kind: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def load_clips() -> list[Clip]:
    """The real, attributed clips shipped in fixtures/audio (fails loudly if missing)."""
    with open(AUDIO_DIR / "manifest.csv", newline="", encoding="utf-8") as fh:
        return [Clip(AUDIO_DIR / row["file"], row["label"], row["kind"]) for row in csv.DictReader(fh)]


@pytest.fixture(scope="session")
def clips() -> list[Clip]:
    return load_clips()


@pytest.fixture(scope="session")
def bird_clips(clips) -> list[Clip]:
    return [c for c in clips if c.kind == "bird" and c.path.suffix == ".ogg"]

"""Real fixture clips for the spatial renderer tests (decoded once per session)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

AUDIO = Path(__file__).resolve().parents[3] / "fixtures" / "audio"


def load(name: str) -> tuple[np.ndarray, int]:
    x, sr = sf.read(AUDIO / name, dtype="float32", always_2d=True)
    return x.mean(axis=1), int(sr)


@pytest.fixture(scope="session")
def warbler():
    return load("XC173620_adelaides_warbler.ogg")


@pytest.fixture(scope="session")
def street():
    """Real street ambience: an idling engine from UrbanSound8K (fixtures/audio)."""
    return load("US8K_103258-5-0-0_engine_idling.ogg")


@pytest.fixture(scope="session")
def jackhammer():
    return load("US8K_165775-7-1-0_jackhammer.ogg")

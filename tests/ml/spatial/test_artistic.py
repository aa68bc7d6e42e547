"""Artistic mix: loudness meter against the EBU reference, FDN decay time, onset allocation,
and a real mix of fixture recordings normalised to −16 LUFS and encoded as Ogg/Opus."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from ml.runtime.audio import encode_ogg_opus
from ml.runtime.spatial.allocation import allocate_onsets, max_concurrency
from ml.runtime.spatial.artistic import MixConfig, render_artistic_mix
from ml.runtime.spatial.loudness import integrated_loudness
from ml.runtime.spatial.reverb import decay_time_s, fdn_reverb

from .conftest import load


def test_loudness_matches_ebu_tech_3341_case_1():
    t = np.arange(48_000 * 20) / 48_000
    s = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)
    assert integrated_loudness(np.stack([s, s], axis=1), 48_000) == pytest.approx(-23.0, abs=0.1)
    # gating: 10 s of near-silence (−80 dBFS) does not pull the reading down
    quiet = np.concatenate([s, 1e-4 * np.sin(2 * np.pi * 1000 * t[: 480_000])])
    assert integrated_loudness(np.stack([quiet, quiet], axis=1), 48_000) == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("rt60", [0.5, 1.2, 2.0])
def test_fdn_reverb_decays_in_the_requested_time(rt60):
    impulse = np.zeros(64)
    impulse[0] = 1.0
    ir = fdn_reverb(impulse, 48_000, rt60_s=rt60, tail_s=1.5 * rt60)
    assert decay_time_s(ir, 48_000) == pytest.approx(rt60, rel=0.1)
    assert abs(np.corrcoef(ir[:, 0], ir[:, 1])[0, 1]) < 0.5      # two decorrelated outputs


def test_onsets_respect_overlap_budget_and_minimum_gap():
    rng = np.random.default_rng(3)
    durations = list(rng.uniform(2.0, 8.0, size=40))
    placed = allocate_onsets(durations, 60.0, max_overlap=3, min_gap_s=1.5)
    onsets = np.array([p.onset_s for p in placed])
    assert len(placed) >= 15
    assert np.all(np.diff(onsets) >= 1.5 - 1e-9)
    assert max_concurrency(placed) <= 3
    assert all(p.onset_s + p.duration_s <= 60.0 for p in placed)
    assert allocate_onsets([float("nan"), -1.0], 10.0) == []


def test_mix_of_real_recordings_is_normalised_and_survives_opus(bird_clips):
    clips = [load(c.path.name) for c in bird_clips]
    result = render_artistic_mix(clips, MixConfig(total_s=20.0, max_clip_s=5.0))
    assert len(result.placements) >= 6
    audio = result.audio
    assert audio.shape[1] == 2 and audio.dtype == np.float32 and np.all(np.isfinite(audio))
    assert integrated_loudness(audio, 48_000) == pytest.approx(-16.0, abs=0.2)
    assert np.max(np.abs(audio)) <= 0.8913
    # the reverberated stereo field is not mono
    assert np.corrcoef(audio[:, 0], audio[:, 1])[0, 1] < 0.95
    ogg = encode_ogg_opus(audio, 48_000)
    assert ogg[:4] == b"OggS" and len(ogg) < audio.nbytes / 10
    back, sr = sf.read(io.BytesIO(ogg), dtype="float32")
    assert sr == 48_000 and back.shape[1] == 2 and integrated_loudness(back, sr) == pytest.approx(-16.0, abs=1.5)

"""Adaptive mix against real street noise (UrbanSound8K idling engine and jackhammer)."""
from __future__ import annotations

import numpy as np

from ml.runtime.spatial import HeadingReading, RenderConfig, SpatialRenderer, VirtualSource
from ml.runtime.spatial.adaptive import AdaptiveConfig
from ml.runtime.spatial.geometry import destination

LAT, LNG, SR, BLOCK = 18.30, -65.80, 48_000, 1024
OCTAVES = np.array([125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0])


def octave_levels(x: np.ndarray, sr: int) -> np.ndarray:
    """Band mean-square levels (dB) from one periodogram of the whole signal (test's own meter)."""
    x = np.asarray(x, np.float64)
    p = np.abs(np.fft.rfft(x)) ** 2 / x.size ** 2
    p[1:-1] *= 2
    f = np.fft.rfftfreq(x.size, 1 / sr)
    lo, hi = OCTAVES / np.sqrt(2), OCTAVES * np.sqrt(2)
    lo[0], hi[-1] = 0.0, sr / 2 + 1
    return np.array([10 * np.log10(p[(f >= a) & (f < b)].sum() + 1e-30) for a, b in zip(lo, hi)])


def run(warbler, ambience: np.ndarray, amb_sr: int, cfg: RenderConfig, seconds: float):
    """Render with the ambience fed as the microphone, in step with the output blocks."""
    x, sr = warbler
    r = SpatialRenderer(cfg)
    r.set_sources([VirtualSource("w", *destination(LAT, LNG, 0.0, 40.0), "Adelaide's Warbler", x, sr,
                                 start_offset_s=0, gap_s=0.0)])
    r.set_listener(LAT, LNG, HeadingReading(compass_deg=0.0))
    hop = BLOCK * amb_sr // SR
    blocks, boosts = [], []
    for k in range(int(seconds * SR / BLOCK)):
        if ambience.size:
            i = (k * hop) % ambience.size
            r.feed_ambient(np.take(ambience, np.arange(i, i + hop), mode="wrap"), amb_sr)
        block, status = r.render_block()
        blocks.append(block)
        boosts.append(float(status.boost_db[0]))
    return np.concatenate(blocks), np.array(boosts)


def test_source_stays_margin_above_street_noise_without_clipping(warbler, street):
    amb, amb_sr = street
    cfg = RenderConfig(adaptive=AdaptiveConfig(margin_db=6.0, max_boost_db=24.0, ceiling_dbfs=-6.0),
                       max_output_rms_dbfs=-6.0)
    loop_s = warbler[0].size / warbler[1]
    quiet, _ = run(warbler, np.zeros(0), amb_sr, cfg, 2.0 + loop_s)
    n_loop = int(loop_s * SR)
    ref = octave_levels(quiet[-n_loop:, 0], SR)
    dom = int(np.argmax(ref))
    # scale the street so that the source, unboosted, sits 4 dB *below* it in its dominant band
    amb_levels = octave_levels(amb, amb_sr)
    amb = amb * 10 ** ((ref[dom] + 4.0 - amb_levels[dom]) / 20)
    amb_levels = octave_levels(amb, amb_sr)
    out, boosts = run(warbler, amb, amb_sr, cfg, 2.0 + loop_s)
    assert np.max(np.abs(out)) < 0.8913 and np.all(np.isfinite(out))
    level = max(octave_levels(out[-n_loop:, c], SR)[dom] for c in (0, 1))
    assert level - amb_levels[dom] >= 6.0 - 1.0          # the target margin (1 dB meter tolerance)
    assert 8.0 <= boosts[-1] <= 12.5                     # it needed ~10 dB, not the maximum
    # smooth: the boost moves at most the slew limit per block (no zipper steps)
    assert np.max(np.abs(np.diff(boosts))) <= 12.0 * BLOCK / SR + 1e-9


def test_loud_street_is_not_fought_to_harmful_levels(warbler, jackhammer):
    amb, amb_sr = jackhammer
    amb = amb / np.max(np.abs(amb)) * 0.99            # a jackhammer at full scale
    cfg = RenderConfig(adaptive=AdaptiveConfig(margin_db=6.0, max_boost_db=18.0, ceiling_dbfs=-12.0),
                       max_output_rms_dbfs=-18.0)
    out, boosts = run(warbler, amb, amb_sr, cfg, 6.0)
    assert np.max(boosts) <= 18.0 + 1e-9
    tail = out[BLOCK * 94:]
    blocks = tail[: tail.shape[0] // BLOCK * BLOCK].reshape(-1, BLOCK, 2)
    rms_db = 10 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=(1, 2)) + 1e-30)
    assert np.max(rms_db) <= -18.0 + 0.5                 # the total output cap holds
    assert np.max(np.abs(out)) < 0.8913


def test_without_ambience_no_boost(warbler):
    out, boosts = run(warbler, np.zeros(0), 24_000, RenderConfig(), 2.0)
    assert np.all(boosts == 0.0) and np.max(np.abs(out)) > 0

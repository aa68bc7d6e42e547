"""The artistic mix of a busy cell: many recordings, each reverberated and placed in stereo,
with staggered onsets, normalised to a loudness target (−16 LUFS by default).

Each recording gets its own small FDN reverb (RT60 and wet level vary per recording, so they
sit at different depths) and an equal-power pan position spread across the stereo field.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.runtime.audio import resample

from .allocation import Placement, allocate_onsets
from .cues import equal_power_pan
from .loudness import normalise
from .reverb import fdn_reverb

SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class MixConfig:
    total_s: float = 60.0
    max_overlap: int = 3
    min_gap_s: float = 1.5
    max_clip_s: float = 8.0
    target_lufs: float = -16.0
    peak_limit: float = 0.891
    rt60_range_s: tuple[float, float] = (0.6, 1.8)
    wet_range: tuple[float, float] = (0.15, 0.45)


@dataclass(frozen=True)
class MixResult:
    audio: np.ndarray           # (n, 2) float32 at SAMPLE_RATE
    loudness_lufs: float
    placements: list[Placement]


def render_artistic_mix(clips: list[tuple[np.ndarray, int]], cfg: MixConfig | None = None,
                        seed: int = 0) -> MixResult:
    """Mix mono ``clips`` (samples, sample rate), given in priority order."""
    cfg = cfg or MixConfig()
    rng = np.random.default_rng(seed)
    prepared = []
    for samples, sr in clips:
        x = np.nan_to_num(np.asarray(samples, dtype=np.float32))
        x = resample(x, int(sr), SAMPLE_RATE)[: int(cfg.max_clip_s * SAMPLE_RATE)]
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
        prepared.append(x / rms * 0.1 if rms > 0 else x)
    placements = allocate_onsets([p.size / SAMPLE_RATE for p in prepared], cfg.total_s,
                                 max_overlap=cfg.max_overlap, min_gap_s=cfg.min_gap_s)
    n = int(cfg.total_s * SAMPLE_RATE) + int(cfg.rt60_range_s[1] * SAMPLE_RATE)
    mix = np.zeros((n, 2))
    k = max(len(placements) - 1, 1)
    for j, p in enumerate(placements):
        x = prepared[p.index].astype(np.float64)
        rt60 = rng.uniform(*cfg.rt60_range_s)
        wet = rng.uniform(*cfg.wet_range)
        pan = -0.8 + 1.6 * j / k if len(placements) > 1 else 0.0
        gl, gr = equal_power_pan(np.array(pan))
        verb = fdn_reverb(x, SAMPLE_RATE, rt60_s=rt60, size=rng.uniform(0.7, 1.3))
        start = int(p.onset_s * SAMPLE_RATE)
        end = min(start + verb.shape[0], n)
        seg = verb[: end - start] * wet
        seg[: x.size, 0] += (1 - wet) * gl * x[: end - start]
        seg[: x.size, 1] += (1 - wet) * gr * x[: end - start]
        mix[start:end] += seg
    audio, lufs = normalise(mix, SAMPLE_RATE, cfg.target_lufs, cfg.peak_limit)
    return MixResult(audio.astype(np.float32), lufs, placements)

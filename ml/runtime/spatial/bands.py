"""Octave-band levels (dBFS, mean square per band) and the two-band crossover used for cues.

A band level is the part of a signal's mean square that falls in the band, from Hann-windowed
frames (Welch): summed over all bands it gives the signal's mean square (Parseval), so a band
level of a source and of the ambience are directly comparable.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

OCTAVE_CENTRES_HZ = np.array([125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0])
CROSSOVER_LOW_HZ, CROSSOVER_HIGH_HZ = 1000.0, 2000.0   # raised-cosine crossover region
FRAME = 2048
FLOOR_DB = -150.0


def band_edges(centres: np.ndarray = OCTAVE_CENTRES_HZ) -> np.ndarray:
    """(n, 2) lower/upper edges of octave bands (the outer bands are open to DC and 20 kHz)."""
    edges = np.stack([centres / np.sqrt(2), centres * np.sqrt(2)], axis=1)
    edges[0, 0], edges[-1, 1] = 0.0, 24_000.0
    return edges


@lru_cache(maxsize=16)
def _band_tables(frame: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(Hann window, band start bins, band end bins, power normalisation) for one frame size."""
    w = np.hanning(frame)
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    edges = band_edges()
    lo = np.clip(np.searchsorted(freqs, edges[:, 0], side="left"), 0, freqs.size)
    hi = np.clip(np.searchsorted(freqs, edges[:, 1], side="left"), 0, freqs.size)
    return w, lo, hi, float(frame * np.sum(w ** 2))


def frame_band_power(x: np.ndarray, sample_rate: int, frame: int = FRAME) -> np.ndarray:
    """(n_frames, n_bands) mean-square power per band of non-overlapping Hann frames."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size // frame
    if n == 0:
        x = np.pad(x, (0, frame - x.size))
        n = 1
    w, lo, hi, norm = _band_tables(frame, int(sample_rate))
    spec = np.abs(np.fft.rfft(x[: n * frame].reshape(n, frame) * w, axis=1)) ** 2
    spec[:, 1:-1] *= 2.0
    spec /= norm
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(spec, axis=1)], axis=1)
    return csum[:, hi] - csum[:, lo]


def band_levels_db(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean band levels (dBFS) of a whole signal."""
    p = frame_band_power(x, sample_rate).mean(axis=0)
    return 10 * np.log10(np.maximum(p, 10 ** (FLOOR_DB / 10)))


def high_band_of(centres: np.ndarray = OCTAVE_CENTRES_HZ) -> np.ndarray:
    """True for octave bands whose centre lies in the cue high band."""
    return centres >= np.sqrt(CROSSOVER_LOW_HZ * CROSSOVER_HIGH_HZ)


def split_bands(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Complementary zero-phase (circular) low/high split: low + high == x."""
    x = np.asarray(x, dtype=np.float64)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    t = np.clip((f - CROSSOVER_LOW_HZ) / (CROSSOVER_HIGH_HZ - CROSSOVER_LOW_HZ), 0.0, 1.0)
    low = np.fft.irfft(spec * (0.5 * (1 + np.cos(np.pi * t))), n=x.size)
    return low.astype(np.float32), (x - low).astype(np.float32)

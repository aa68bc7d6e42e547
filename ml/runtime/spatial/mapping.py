"""How a map becomes sound: distance → gain, abundance → playback rate and base gain.

* Distance: inverse distance (−6 dB per doubling) from ``ref_m`` on, unity closer than that,
  faded to silence by a raised cosine over the last ``fade_fraction`` of ``max_m``, zero beyond.
* Rate: 1 + slope · log2(count), clamped to [RATE_MIN, RATE_MAX]: monotonic, never below normal
  speed (a single find plays at its natural rate), saturating for very common species.
* Base gain: grows gently with log2(count) between BASE_GAIN_MIN and 1.
"""
from __future__ import annotations

import numpy as np

RATE_MIN, RATE_MAX, RATE_SLOPE = 1.0, 1.5, 0.1
BASE_GAIN_MIN, BASE_GAIN_SLOPE = 0.5, 0.1


def distance_gain(distance_m: np.ndarray, ref_m: float = 5.0, max_m: float = 400.0,
                  fade_fraction: float = 0.15) -> np.ndarray:
    """Amplitude gain of a source at ``distance_m``; NaN distances give 0."""
    d = np.asarray(distance_m, dtype=np.float64)
    ok = np.isfinite(d)
    d = np.where(ok, d, np.inf)
    g = ref_m / np.maximum(d, ref_m)
    fade_start = max_m * (1.0 - fade_fraction)
    x = np.clip((d - fade_start) / max(max_m - fade_start, 1e-9), 0.0, 1.0)
    taper = 0.5 * (1.0 + np.cos(np.pi * x))
    return np.where(ok & (d <= max_m), g * taper, 0.0)


def playback_rate(count: np.ndarray | float) -> np.ndarray:
    """Playback-rate hint for an abundance ``count`` (≥ 1)."""
    c = np.maximum(np.nan_to_num(np.asarray(count, dtype=np.float64), nan=1.0), 1.0)
    return np.clip(1.0 + RATE_SLOPE * np.log2(c), RATE_MIN, RATE_MAX)


def base_gain(count: np.ndarray | float) -> np.ndarray:
    """Base amplitude gain for an abundance ``count``: more finds, a little louder."""
    c = np.maximum(np.nan_to_num(np.asarray(count, dtype=np.float64), nan=1.0), 1.0)
    return np.clip(BASE_GAIN_MIN + BASE_GAIN_SLOPE * np.log2(c), BASE_GAIN_MIN, 1.0)

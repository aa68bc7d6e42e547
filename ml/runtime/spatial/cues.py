"""Direction cues per source and ear: equal-power panning, Woodworth ITD, head-shadow ILD.

Signals are split once into a low band (< ~1.5 kHz) and a high band (complementary, so the two
sum back to the clip). Per ear each band gets one gain, and each ear one delay:

* ``pan`` mode: equal-power panning of both bands by the lateral position sin(azimuth).
* ``binaural`` mode (default):
  - ITD from Woodworth's spherical head, τ = a/c (θ + sin θ) for the lateral angle θ; the far
    ear is delayed.
  - low band: a narrow equal-power pan (low frequencies diffract around the head);
  - high band: the Brown–Duda head-shadow filter's high-frequency asymptote
    α(θ_ear) = (1 + α_min/2) + (1 − α_min/2) cos(θ_ear / θ_min · 180°), α_min = 0.1, θ_min = 150°,
    where θ_ear is the angle between the source and that ear's axis (+6 dB facing the ear,
    about −20 dB in the shadow), normalised so a source straight ahead has equal-power gains;
  - front/back: a pinna shadow lowers the high band of sources behind the listener (up to
    ``REAR_SHADOW_DB`` at 180°), so a source behind sounds duller than the same source ahead.
* No heading (azimuth NaN): both ears get the frontal gains and no delay — direction suspended.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

HEAD_RADIUS_M = 0.0875
SPEED_OF_SOUND_MPS = 343.0
ALPHA_MIN = 0.1
THETA_MIN_DEG = 150.0
LOW_BAND_PAN_WIDTH = 0.35
REAR_SHADOW_DB = -6.0
CUE_MODES = ("binaural", "pan")
MAX_ITD_S = HEAD_RADIUS_M / SPEED_OF_SOUND_MPS * (np.pi / 2 + 1.0)


def equal_power_pan(pan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) gains for pan in [-1 (left), 1 (right)]; L² + R² = 1."""
    phi = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4.0
    return np.cos(phi), np.sin(phi)


def head_shadow_alpha(angle_from_ear_deg: np.ndarray) -> np.ndarray:
    """Brown–Duda high-frequency gain for a source ``angle_from_ear_deg`` away from the ear axis."""
    theta = np.abs(np.asarray(angle_from_ear_deg, dtype=np.float64))
    theta = np.where(theta > 180.0, 360.0 - theta, theta)
    return (1 + ALPHA_MIN / 2) + (1 - ALPHA_MIN / 2) * np.cos(theta / THETA_MIN_DEG * np.pi)


_FRONT_ALPHA = float(head_shadow_alpha(90.0))


def rear_shadow(azimuth_deg: np.ndarray) -> np.ndarray:
    """High-band gain of the pinna shadow: 1 ahead, 10^(REAR_SHADOW_DB/20) straight behind."""
    depth = 1.0 - 10 ** (REAR_SHADOW_DB / 20.0)
    return 1.0 - depth * (1.0 - np.cos(np.radians(azimuth_deg))) / 2.0


def ear_cues(azimuth_deg: np.ndarray, sample_rate: int, mode: str = "binaural") -> tuple[np.ndarray, np.ndarray]:
    """Per-source (gains (n, 4), integer delays (n, 2)) for one block.

    Gains are ordered low-left, low-right, high-left, high-right; delays are (left, right) in
    samples, zero in ``pan`` mode. A NaN azimuth (no heading) gives the frontal gains and no delay.
    Computed in one pass (sin θ is shared by the pan, the ITD and the shadow), since the renderer
    calls this for every block.
    """
    if mode not in CUE_MODES:
        raise ValueError(f"cue mode must be one of {CUE_MODES}")
    az = np.asarray(azimuth_deg, dtype=np.float64)
    az = np.where(np.isfinite(az), az, 0.0)
    rad = np.radians(az)
    s = np.sin(rad)
    gains = np.empty(az.shape + (4,))
    delays = np.zeros(az.shape + (2,), dtype=np.int64)
    if mode == "pan":
        gl, gr = equal_power_pan(s)
        gains[..., 0], gains[..., 1], gains[..., 2], gains[..., 3] = gl, gr, gl, gr
        return gains, delays
    gains[..., 0], gains[..., 1] = equal_power_pan(LOW_BAND_PAN_WIDTH * s)
    high = (np.sqrt(0.5) / _FRONT_ALPHA) * rear_shadow(az)
    gains[..., 2] = high * head_shadow_alpha(az + 90.0)   # left ear axis points to -90°
    gains[..., 3] = high * head_shadow_alpha(az - 90.0)
    lateral = np.arcsin(np.clip(s, -1.0, 1.0))          # Woodworth: τ = a/c (θ + sin θ)
    itd = HEAD_RADIUS_M / SPEED_OF_SOUND_MPS * (lateral + s)
    samples = np.rint(np.abs(itd) * sample_rate).astype(np.int64)
    delays[..., 0] = np.where(itd > 0, samples, 0)   # source right → left ear lags
    delays[..., 1] = np.where(itd < 0, samples, 0)
    return gains, delays


TABLE_STEP_DEG = 0.1


@lru_cache(maxsize=8)
def _cue_table(sample_rate: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ear_cues` on a ``TABLE_STEP_DEG`` grid over [-180°, 180°], plus the NaN row at the end."""
    grid = np.append(np.linspace(-180.0, 180.0, int(round(360 / TABLE_STEP_DEG)) + 1), np.nan)
    gains, delays = ear_cues(grid, sample_rate, mode)
    gains.setflags(write=False)
    delays.setflags(write=False)
    return gains, delays


def ear_cues_table(azimuth_deg: np.ndarray, sample_rate: int, mode: str = "binaural") -> tuple[np.ndarray, np.ndarray]:
    """:func:`ear_cues` read from a table at ``TABLE_STEP_DEG`` resolution (the renderer's path).

    Per block this is two lookups instead of some sixty small array operations; a 0.1° step
    changes a gain by at most about 0.02 dB, far below what a listener can hear, and gains ramp anyway.
    """
    gains, delays = _cue_table(int(sample_rate), mode)
    az = np.asarray(azimuth_deg, dtype=np.float64)
    known = np.isfinite(az)
    idx = np.rint((np.clip(np.where(known, az, 0.0), -180.0, 180.0) + 180.0) / TABLE_STEP_DEG)
    idx = np.where(known, idx, gains.shape[0] - 1).astype(np.intp)
    return gains[idx], delays[idx]

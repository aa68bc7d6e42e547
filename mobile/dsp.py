"""Pure signal maths for the phone screens: gain, level meter, waveform envelope, spectrogram.

numpy only; no Kivy, no I/O, so tests call these directly.
"""
from __future__ import annotations

import numpy as np

DB_FLOOR = -90.0


def db_to_gain(db: float) -> float:
    """Linear amplitude factor of a gain in dB."""
    return float(10.0 ** (float(db) / 20.0))


def apply_gain(block: np.ndarray, gain_db: float) -> np.ndarray:
    """``block`` scaled by ``gain_db`` and hard-limited to [-1, 1] (what a real ADC does)."""
    return np.clip(np.asarray(block, dtype=np.float32) * db_to_gain(gain_db), -1.0, 1.0)


def level_dbfs(block: np.ndarray) -> tuple[float, float]:
    """(rms_dbfs, peak_dbfs) of a block, floored at :data:`DB_FLOOR` for silence."""
    x = np.asarray(block, dtype=np.float64)
    if x.size == 0:
        return DB_FLOOR, DB_FLOOR
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.abs(x).max())
    to_db = (lambda v: float(max(DB_FLOOR, 20.0 * np.log10(v))) if v > 0 else DB_FLOOR)
    return to_db(rms), to_db(peak)


def meter_fraction(dbfs: float, floor: float = -60.0) -> float:
    """Position in [0, 1] of a dBFS level on a meter whose left end is ``floor``."""
    return float(min(1.0, max(0.0, (dbfs - floor) / -floor)))


def waveform_envelope(samples: np.ndarray, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) per column for drawing a waveform ``n_columns`` wide."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    n_columns = max(1, int(n_columns))
    if x.size == 0:
        return np.zeros(n_columns, np.float32), np.zeros(n_columns, np.float32)
    edges = np.linspace(0, x.size, n_columns + 1).astype(int)
    lo = np.empty(n_columns, np.float32)
    hi = np.empty(n_columns, np.float32)
    for i in range(n_columns):
        a, b = edges[i], max(edges[i + 1], edges[i] + 1)
        seg = x[a:min(b, x.size)] if a < x.size else x[-1:]
        lo[i], hi[i] = seg.min(), seg.max()
    return lo, hi


def spectrogram_db(samples: np.ndarray, sample_rate: int, n_fft: int = 512, hop: int = 256,
                   max_hz: float = 12_000.0) -> np.ndarray:
    """(n_frames, n_bins) power spectrogram in dB up to ``max_hz`` (rows are time)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    n_frames = 1 + (x.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    n_bins = min(power.shape[1], int(max_hz / (sample_rate / n_fft)) + 1)
    return (10.0 * np.log10(power[:, :n_bins] + 1e-10)).astype(np.float32)


def clamp_selection(start_s: float, end_s: float, duration_s: float, min_len_s: float = 0.5) -> tuple[float, float]:
    """A valid (start, end) inside [0, duration]: ordered, at least ``min_len_s`` long when possible."""
    if duration_s <= 0:
        raise ValueError("The take is empty.")
    a, b = sorted((float(start_s), float(end_s)))
    a, b = max(0.0, a), min(duration_s, b)
    if b - a < min_len_s:
        half = min(min_len_s, duration_s) / 2.0
        mid = min(max((a + b) / 2.0, half), duration_s - half)
        a, b = mid - half, mid + half
    return round(a, 4), round(b, 4)


def x_to_seconds(x: float, width: float, duration_s: float) -> float:
    """Time under a horizontal pixel position of a waveform drawn ``width`` wide."""
    if width <= 0:
        return 0.0
    return float(min(duration_s, max(0.0, x / width * duration_s)))

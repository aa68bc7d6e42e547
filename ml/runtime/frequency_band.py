"""The frequency band a recorded sound occupies, measured on its samples (numpy only).

:func:`occupied_band` is what Darwin Core's Audiovisual Core calls ``ac:freqLow`` / ``ac:freqHigh`` for a
sound: the frequencies between which the central ``fraction`` of the sound's energy lies (Raven's
"Freq 5%" and "Freq 95%" for the default 0.9). Energy is counted per frequency bin above that bin's noise
floor (:func:`ml.runtime.quality.signal_spectrum`), unweighted, from ``min_hz`` up, so steady background
hum and silence do not widen the band.
"""
from __future__ import annotations

import numpy as np

from .quality import frame_spectrogram, signal_spectrum, validate_samples

DEFAULT_FRACTION = 0.9
MIN_HZ = 50.0
ROUND_HZ = 10.0
MIN_EXCESS_SHARE = 0.01  # above-floor energy below this share of all energy: no sound stands out


def occupied_band(samples: np.ndarray, sample_rate: int, fraction: float = DEFAULT_FRACTION,
                  min_hz: float = MIN_HZ) -> tuple[float, float] | None:
    """(low, high) in Hz holding the central ``fraction`` of the above-floor energy, rounded outwards to
    10 Hz and within [0, sample_rate / 2]; None when the clip is empty or nothing stands above the noise
    floor (above-floor energy under :data:`MIN_EXCESS_SHARE` of all energy: silence, a tone held through
    the whole clip)."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must lie strictly between 0 and 1")
    if np.asarray(samples).size == 0:
        return None
    x = validate_samples(samples, sample_rate)
    power, freqs = frame_spectrogram(x, sample_rate)
    usable = freqs >= min_hz
    energy = np.where(usable, signal_spectrum(power), 0.0).astype(np.float64)
    total = energy.sum()
    if not np.isfinite(total) or total <= MIN_EXCESS_SHARE * float(power[:, usable].sum(dtype=np.float64)):
        return None
    cumulative = np.cumsum(energy) / total
    tail = (1.0 - fraction) / 2.0
    low_bin = int(np.searchsorted(cumulative, tail, side="left"))
    high_bin = int(np.searchsorted(cumulative, 1.0 - tail, side="left"))
    step = freqs[1] - freqs[0]
    nyquist = sample_rate / 2.0
    low = max(0.0, np.floor((freqs[low_bin] - step / 2) / ROUND_HZ) * ROUND_HZ)
    high = min(nyquist, np.ceil((freqs[min(high_bin, len(freqs) - 1)] + step / 2) / ROUND_HZ) * ROUND_HZ)
    return (float(low), float(high)) if high > low else None

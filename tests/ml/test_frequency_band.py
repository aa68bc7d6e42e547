"""ml.runtime.frequency_band: the band a sound occupies, measured on its samples (ac:freqLow/ac:freqHigh)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.runtime.audio import decode
from ml.runtime.frequency_band import occupied_band

SR = 24_000
AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio"


def calls(freq_start: float, freq_end: float, seconds: float = 3.0, noise: float = 0.01) -> np.ndarray:
    """0.2-s sweeps from freq_start to freq_end every 0.5 s over white noise."""
    t = np.arange(int(SR * seconds)) / SR
    within = t % 0.5
    phase = 2 * np.pi * (freq_start * within + 0.5 * (freq_end - freq_start) / 0.2 * within ** 2)
    signal = 0.3 * np.sin(phase) * (within < 0.2)
    return (signal + noise * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


def test_a_tone_in_noise_is_a_narrow_band_around_it():
    low, high = occupied_band(calls(3000, 3000), SR)
    assert 2800 <= low < 3000 < high <= 3200


def test_a_sweep_covers_its_range_and_no_more():
    low, high = occupied_band(calls(2000, 6000), SR)
    assert 2000 <= low <= 2500 and 5500 <= high <= 6000


def test_nothing_above_the_noise_floor_is_no_band():
    t = np.arange(SR * 2) / SR
    assert occupied_band(np.zeros(SR, np.float32), SR) is None
    assert occupied_band((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR) is None   # held throughout
    assert occupied_band(np.zeros(0, np.float32), SR) is None


def test_band_stays_within_nyquist_and_is_rounded():
    low, high = occupied_band(calls(9000, 11_990), SR)
    assert high <= SR / 2 and low % 10 == 0 and high % 10 == 0


def test_bad_fraction_and_bad_samples_raise():
    with pytest.raises(ValueError):
        occupied_band(calls(3000, 3000), SR, fraction=1.0)
    with pytest.raises(ValueError):
        occupied_band(np.full(100, np.nan, np.float32), SR)


@pytest.mark.parametrize("name, within", [
    ("XC32051_bananaquit.ogg", (6000, 10_000)),            # a very high, thin song
    ("XC308530_puerto_rican_owl.ogg", (300, 1500)),         # low hoots and trills
    ("XC173620_adelaides_warbler.ogg", (3000, 8000)),
])
def test_real_recordings(name, within):
    samples, sr = decode((AUDIO / name).read_bytes())
    low, high = occupied_band(samples, sr)
    assert within[0] <= low < high <= within[1]

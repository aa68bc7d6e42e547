"""Pure maths of the screens: gain, meter, waveform, selection, backoff."""
import random

import numpy as np
import pytest

from mobile import dsp
from mobile.backoff import retry_delay


def test_level_of_a_full_scale_sine_and_of_silence():
    t = np.arange(48_000) / 48_000
    rms, peak = dsp.level_dbfs(np.sin(2 * np.pi * 1000 * t))
    assert rms == pytest.approx(-3.01, abs=0.05) and peak == pytest.approx(0.0, abs=0.01)
    assert dsp.level_dbfs(np.zeros(100)) == (dsp.DB_FLOOR, dsp.DB_FLOOR)
    assert dsp.meter_fraction(-60) == 0.0 and dsp.meter_fraction(0) == 1.0 and dsp.meter_fraction(-30) == 0.5


def test_gain_scales_and_clips_like_an_adc():
    x = np.full(10, 0.1, np.float32)
    assert np.allclose(dsp.apply_gain(x, 20.0), 1.0)
    assert np.allclose(dsp.apply_gain(x, 6.0206), 0.2, atol=1e-4)
    assert dsp.apply_gain(np.full(4, 0.5), 30.0).max() == 1.0


def test_waveform_envelope_keeps_extremes_per_column():
    x = np.zeros(1000, np.float32)
    x[250], x[760] = 0.9, -0.7
    lo, hi = dsp.waveform_envelope(x, 4)
    assert hi[1] == pytest.approx(0.9) and lo[3] == pytest.approx(-0.7) and hi[0] == 0 and lo[2] == 0


def test_selection_is_ordered_clamped_and_long_enough():
    assert dsp.clamp_selection(4.0, 1.0, 6.0) == (1.0, 4.0)
    assert dsp.clamp_selection(-2, 9, 6.0) == (0.0, 6.0)
    a, b = dsp.clamp_selection(5.9, 5.95, 6.0)
    assert b == 6.0 and b - a == pytest.approx(0.5)
    with pytest.raises(ValueError):
        dsp.clamp_selection(0, 1, 0)
    assert dsp.x_to_seconds(206, 412, 6.0) == pytest.approx(3.0)


def test_spectrogram_puts_a_tone_in_its_bin():
    sr = 24_000
    x = np.sin(2 * np.pi * 3000 * np.arange(sr) / sr)
    spec = dsp.spectrogram_db(x, sr)
    assert int(np.argmax(spec.mean(axis=0))) == round(3000 / (sr / 512))


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(1)
    assert retry_delay(0) == 0.0
    for attempt in range(1, 12):
        ceiling = min(900.0, 5.0 * 2 ** (attempt - 1))
        d = retry_delay(attempt, rng)
        assert ceiling / 2 <= d <= ceiling

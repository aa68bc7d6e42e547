"""The torch training frontend and the numpy runtime frontend agree within 1e-4 on real clips."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from ml.frontend import window_log_mels  # noqa: E402
from ml.runtime.batch_features import log_mel_windows  # noqa: E402
from ml.runtime.features import FeatureParams  # noqa: E402


@pytest.mark.parametrize("name", ["XC32051_bananaquit.ogg", "US8K_159738-8-0-16_siren.ogg",
                                  "XC173620_adelaides_warbler_24k.wav", "BioDCASE26_TEST_0001_Background.wav"])
def test_training_and_runtime_log_mels_agree(name, load_clip):
    params = FeatureParams()
    samples, _ = load_clip(name, params.sample_rate)
    runtime, _ = log_mel_windows(samples, params)
    training = window_log_mels(samples, params)
    assert runtime.shape == training.shape
    assert np.abs(runtime - training).max() <= 1e-4


def test_short_clip_padding_agrees(load_clip):
    params = FeatureParams()
    samples, _ = load_clip("US8K_174840-1-0-0_car_horn.ogg", params.sample_rate)
    short = samples[: params.sample_rate // 2]
    runtime, _ = log_mel_windows(short, params)
    assert np.abs(runtime - window_log_mels(short, params)).max() <= 1e-4

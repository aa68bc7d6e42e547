"""ml.metrics: the one ECE (10 bins, as evaluate/bench/train report it) and its sampling noise."""
import math

import numpy as np
import pytest

from ml import metrics


def test_summarise_reports_the_ten_bin_ece():
    # 0.62 and 0.68 share the 10-bin bin [0.6, 0.7) (acc 0.5 vs conf 0.65 -> 0.15); with 15 bins they would
    # fall apart (|1 - 0.62| and |0 - 0.68| -> 0.53)
    rep = metrics.summarise(["a", "a"], [["a", "b"], ["b", "a"]], [0.62, 0.68], ["a", "b"])
    assert rep["ece"] == pytest.approx(0.15)
    assert metrics.expected_calibration_error([0.62, 0.68], [True, False], n_bins=15) == pytest.approx(0.53)


def test_calibrated_spread_is_zero_for_certain_models_and_large_for_few_unsure_files():
    assert metrics.calibrated_ece_spread([1.0] * 39)["mean"] == 0.0
    unsure = metrics.calibrated_ece_spread(np.full(39, 0.53), draws=500, seed=3)
    # 39 files at confidence 0.53: |hits/39 - 0.53| has a standard deviation of about 0.08
    assert 0.04 < unsure["mean"] < 0.12 and unsure["p5"] <= unsure["mean"] <= unsure["p95"]
    assert unsure == metrics.calibrated_ece_spread(np.full(39, 0.53), draws=500, seed=3)  # seeded
    many = metrics.calibrated_ece_spread(np.full(3900, 0.53), draws=200, seed=3)
    assert many["mean"] < unsure["mean"] / 5  # the noise shrinks with the number of files
    assert math.isnan(metrics.calibrated_ece_spread([])["mean"])

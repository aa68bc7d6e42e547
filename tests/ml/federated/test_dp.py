"""Differential privacy: clipping, accountant figures, noise calibration, adaptive clipping."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ml.federated import dp


def test_clip_rows_bounds_every_norm():
    u = np.array([[3.0, 4.0], [0.3, 0.4]])
    clipped, norms = dp.clip_rows(u, 1.0)
    assert np.allclose(np.linalg.norm(clipped, axis=1), [1.0, 0.5]) and np.allclose(norms, [5.0, 0.5])


def test_epsilon_grows_with_rounds_and_falls_with_noise():
    e10 = dp.epsilon_after(10, 0.1, 1.0, 1e-5)
    e50 = dp.epsilon_after(50, 0.1, 1.0, 1e-5)
    e50_quiet = dp.epsilon_after(50, 0.1, 2.0, 1e-5)
    assert 0 < e10 < e50 and e50_quiet < e50
    assert math.isinf(dp.epsilon_after(5, 0.1, 0.0, 1e-5))


def test_noise_for_budget_meets_the_budget_tightly():
    sigma = dp.noise_for_budget(8.0, 1e-5, 50, 10 / 27)
    assert dp.epsilon_after(50, 10 / 27, sigma, 1e-5) <= 8.0
    assert dp.epsilon_after(50, 10 / 27, sigma * 0.95, 1e-5) > 8.0


def test_ledger_matches_composed_accountant():
    ledger = dp.PrivacyLedger(1e-5)
    for _ in range(20):
        eps = ledger.record_round(0.2, 1.5)
    assert eps == pytest.approx(dp.epsilon_after(20, 0.2, 1.5, 1e-5))
    ledger.record_round(0.2, 0.0)
    assert math.isinf(ledger.epsilon())


def test_adaptive_clip_tracks_the_target_quantile():
    rng = np.random.default_rng(0)
    c = 10.0
    for _ in range(200):
        c = dp.adaptive_clip(c, rng.lognormal(0.0, 0.5, size=50), target_quantile=0.5, lr=0.2)
    assert 0.7 < c < 1.4  # median of lognormal(0, .5) is 1

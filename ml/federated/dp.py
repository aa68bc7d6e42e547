"""Central differential privacy for federated rounds (DP-FedAvg, McMahan et al. 2018).

Each client clips its update to L2 norm C (:func:`ml.runtime.federated.codec.clip_update`); the
server averages the K clipped updates with *uniform* weights and adds Gaussian noise of
standard deviation σ·C to their sum (:func:`noisy_mean`), so one client's presence changes
the released sum by at most C and the release is a Gaussian mechanism with noise multiplier σ.

Accounting uses Google's ``dp-accounting`` RDP accountant (the maintained one behind
TensorFlow Privacy and Opacus-style accounting), composing one Poisson-subsampled Gaussian
event per round with sampling rate q = K / M (clients per round / eligible clients) --
:class:`PrivacyLedger`. :func:`noise_for_budget` finds the smallest σ that keeps (ε, δ)
within budget for a planned number of rounds.

Adaptive clipping (Andrew et al. 2021): :func:`adaptive_clip` moves C geometrically so that a
target quantile γ of client update norms falls below it, from a (noised) count of clipped
clients.
"""
from __future__ import annotations

import math

import numpy as np
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant as rdp

# RDP orders >= 2 (lower ones add nothing for these noise levels and fail to converge in dp-accounting)
ORDERS = tuple([2 + x / 4.0 for x in range(0, 40)] + list(range(12, 64)) + [128, 256, 512])


def clip_rows(updates: np.ndarray, clip_norm: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows scaled to norm <= C, their norms before clipping)."""
    u = np.asarray(updates, np.float64)
    norms = np.linalg.norm(u, axis=1)
    factor = np.minimum(1.0, clip_norm / np.maximum(norms, 1e-12))
    return u * factor[:, None], norms


def noisy_mean(clipped: np.ndarray, clip_norm: float, noise_multiplier: float,
               rng: np.random.Generator, expected_clients: int | None = None) -> np.ndarray:
    """(Σ clipped + N(0, (σC)²)) / K, with K the planned clients per round (fixed denominator)."""
    u = np.asarray(clipped, np.float64)
    k = expected_clients or u.shape[0]
    noise = rng.normal(0.0, noise_multiplier * clip_norm, size=u.shape[1]) if noise_multiplier > 0 else 0.0
    return (u.sum(axis=0) + noise) / k


def epsilon_after(rounds: int, sampling_rate: float, noise_multiplier: float, delta: float) -> float:
    """ε spent after ``rounds`` rounds (∞ without noise)."""
    if rounds <= 0:
        return 0.0
    if noise_multiplier <= 0:
        return math.inf
    acc = rdp.RdpAccountant(list(ORDERS))
    event = dp_event.PoissonSampledDpEvent(min(1.0, sampling_rate), dp_event.GaussianDpEvent(noise_multiplier))
    acc.compose(event, count=int(rounds))
    return float(acc.get_epsilon(delta))


def noise_for_budget(epsilon: float, delta: float, rounds: int, sampling_rate: float,
                     lo: float = 0.05, hi: float = 50.0) -> float:
    """Smallest noise multiplier σ (to 1e-3) with ε(rounds) <= ``epsilon``."""
    if epsilon_after(rounds, sampling_rate, hi, delta) > epsilon:
        raise ValueError("The budget cannot be met even with very large noise.")
    for _ in range(40):
        mid = (lo + hi) / 2
        if epsilon_after(rounds, sampling_rate, mid, delta) > epsilon:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-3:
            break
    return hi


class PrivacyLedger:
    """(ε, δ) spent so far over rounds that may differ in sampling rate and noise."""

    def __init__(self, delta: float = 1e-5):
        self.delta = delta
        self._acc = rdp.RdpAccountant(list(ORDERS))
        self.rounds = 0
        self.non_private = False

    def record_round(self, sampling_rate: float, noise_multiplier: float) -> float:
        """Compose one round; return ε so far."""
        self.rounds += 1
        if noise_multiplier <= 0:
            self.non_private = True
        else:
            self._acc.compose(dp_event.PoissonSampledDpEvent(min(1.0, sampling_rate),
                                                             dp_event.GaussianDpEvent(noise_multiplier)))
        return self.epsilon()

    def epsilon(self) -> float:
        if self.non_private:
            return math.inf
        return float(self._acc.get_epsilon(self.delta)) if self.rounds else 0.0


def adaptive_clip(clip_norm: float, norms: np.ndarray, target_quantile: float = 0.5, lr: float = 0.2,
                  count_noise: float = 0.0, rng: np.random.Generator | None = None) -> float:
    """Next round's C: C·exp(−lr·(b̄ − γ)), b̄ = (noised) fraction of norms <= C."""
    norms = np.asarray(norms, np.float64)
    below = float(np.sum(norms <= clip_norm))
    if count_noise > 0:
        below += (rng or np.random.default_rng()).normal(0.0, count_noise)
    frac = below / max(1, norms.size)
    return float(clip_norm * math.exp(-lr * (frac - target_quantile)))

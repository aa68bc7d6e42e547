"""Aggregation weights α_k over the K client updates of a round (they sum to 1).

* ``count``: α_k = n_k / Σ n  (FedAvg's sample-count weighting);
* ``loss``:  α_k = softmax(−L_k / τ)  -- clients whose local training loss is lower count more;
* ``error``: α_k = softmax((1 − err_k) / τ) -- clients whose local validation error is lower
  count more;
* ``uniform``: α_k = 1 / K (required with central differential privacy, where one client's
  influence must be bounded by the clip norm alone).

The temperature τ > 0 sets how peaked the softmax is: τ → ∞ gives uniform weights, τ → 0 gives
all weight to the best client. Losses are cross-entropies (nats, typically 0.1-3) and errors
are fractions in [0, 1]; τ = 1.0 for ``loss`` and τ = 0.1 for ``error`` (the defaults) make a
difference of one typical spread change a weight by a factor of e.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

WEIGHTINGS = ("count", "loss", "error", "uniform")
DEFAULT_TAU = {"count": 1.0, "loss": 1.0, "error": 0.1, "uniform": 1.0}


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def aggregation_weights(kind: str, *, n: Sequence[float] | None = None, loss: Sequence[float] | None = None,
                        error: Sequence[float] | None = None, tau: float | None = None, k: int | None = None) -> np.ndarray:
    """The weights α (shape (K,), summing to 1) for ``kind`` in :data:`WEIGHTINGS`."""
    if kind not in WEIGHTINGS:
        raise ValueError(f"Unknown weighting {kind!r}; choose one of {', '.join(WEIGHTINGS)}.")
    tau = DEFAULT_TAU[kind] if tau is None else float(tau)
    if not tau > 0:
        raise ValueError("The temperature tau must be positive.")
    if kind == "count":
        counts = np.asarray(n, np.float64)
        if counts.size == 0 or np.any(counts < 0) or counts.sum() <= 0:
            raise ValueError("count weighting needs non-negative sample counts with a positive sum.")
        return counts / counts.sum()
    if kind == "loss":
        return _softmax(-np.asarray(loss, np.float64) / tau)
    if kind == "error":
        return _softmax((1.0 - np.asarray(error, np.float64)) / tau)
    size = k if k is not None else len(n if n is not None else loss if loss is not None else error)
    return np.full(size, 1.0 / size)

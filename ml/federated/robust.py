"""Byzantine-robust aggregation of K client updates (rows of a (K, P) matrix).

* :func:`coordinate_median` -- per coordinate median (Yin et al. 2018);
* :func:`trimmed_mean` -- per coordinate, drop the ⌊βK⌋ largest and smallest values, average
  the rest (β < 0.5);
* :func:`krum` / Multi-Krum (Blanchard et al. 2017) -- score each update by the summed squared
  distance to its K − f − 2 nearest neighbours; Krum returns the best-scored update,
  Multi-Krum the mean of the ``m`` best.
"""
from __future__ import annotations

import numpy as np


def _check(updates: np.ndarray) -> np.ndarray:
    u = np.asarray(updates, np.float64)
    if u.ndim != 2 or u.shape[0] == 0:
        raise ValueError("Robust aggregation needs a non-empty (K, P) matrix of updates.")
    return u


def coordinate_median(updates: np.ndarray) -> np.ndarray:
    return np.median(_check(updates), axis=0)


def trimmed_mean(updates: np.ndarray, beta: float = 0.1) -> np.ndarray:
    u = _check(updates)
    if not 0 <= beta < 0.5:
        raise ValueError("trimmed_mean needs 0 <= beta < 0.5.")
    k = u.shape[0]
    cut = int(np.floor(beta * k))
    if cut == 0:
        return u.mean(axis=0)
    part = np.partition(u, (cut, k - cut - 1), axis=0)
    return part[cut: k - cut].mean(axis=0)


def krum_scores(updates: np.ndarray, f: int) -> np.ndarray:
    """Krum score of each update: sum of squared distances to its K − f − 2 closest others."""
    u = _check(updates)
    k = u.shape[0]
    n_near = k - f - 2
    if f < 0 or n_near < 1:
        raise ValueError(f"Krum needs K > f + 2 (K={k}, f={f}).")
    sq = np.einsum("ij,ij->i", u, u)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (u @ u.T), 0.0)
    np.fill_diagonal(dist, np.inf)
    return np.sort(dist, axis=1)[:, :n_near].sum(axis=1)


def krum(updates: np.ndarray, f: int, m: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(aggregate, indices selected): Krum for ``m == 1``, Multi-Krum (mean of ``m`` best) otherwise."""
    u = _check(updates)
    if not 1 <= m <= u.shape[0]:
        raise ValueError("Multi-Krum needs 1 <= m <= K.")
    chosen = np.argsort(krum_scores(u, f), kind="stable")[:m]
    return u[chosen].mean(axis=0), chosen


def bound_norms(updates: np.ndarray, bound: float) -> np.ndarray:
    """Rows scaled down to L2 norm <= ``bound`` (norm bounding, Sun et al. 2019)."""
    u = _check(updates)
    norms = np.linalg.norm(u, axis=1)
    return u * np.minimum(1.0, bound / np.maximum(norms, 1e-12))[:, None]


def centered_clip(updates: np.ndarray, tau: float | None = None, iters: int = 3,
                  center: np.ndarray | None = None) -> np.ndarray:
    """Centered clipping (Karimireddy et al. 2021): v ← v + mean_k clip(u_k − v, τ), from the
    coordinate median (or ``center``). τ = the median distance to v when not given, so honest
    updates pass almost unclipped while a minority far away moves v by at most τ·(f/K)."""
    u = _check(updates)
    v = np.median(u, axis=0) if center is None else np.asarray(center, np.float64)
    for _ in range(max(1, iters)):
        diff = u - v
        dist = np.linalg.norm(diff, axis=1)
        t = float(np.median(dist)) if tau is None else float(tau)
        v = v + (diff * np.minimum(1.0, t / np.maximum(dist, 1e-12))[:, None]).mean(axis=0)
    return v

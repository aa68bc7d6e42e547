"""Federated multi-teacher distillation: an alternative to averaging parameters.

Each sampled client's model (global head + its delta) is a *teacher*. On the server's
unlabelled proxy embeddings the teachers' softened probabilities are mixed with
error-based teacher weights (α_k = softmax((1 − err_k)/τ), :mod:`ml.federated.weights`) and the
student head -- initialised from the current global head -- is fitted to the mix by gradient
descent on the cross-entropy (equivalently KL) to those soft targets.

How the teachers are mixed matters on non-IID clients. Each teacher (global head + one client's
delta) has learnt to push up the few species its owner recorded, so on a proxy window of any
other species it still votes confidently for its own species: the mean of the teachers'
*probabilities* is a spread over the sampled clients' species, whatever the window holds
(the first pass's 0.051 accuracy). Mixing in *logit* space (``mix="logits"``, the default:
softmax(Σ α_k z_k / T)) lets a teacher's pushes on species it never saw cancel against the
others'; for a linear head this target is exactly the weighted parameter average, and the
student is fitted to it on the proxy distribution. ``mix="probs"`` keeps the first behaviour
for comparison.

When the student has converged (its round-to-round change falls below ``reinit_tol``), the
last layer is re-initialised (small random weights, same bias) before distilling, so the
student is fitted afresh to the teacher mix rather than staying stuck near the old solution.
"""
from __future__ import annotations

import numpy as np

from ml.federated.weights import aggregation_weights

Head = dict[str, np.ndarray]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def teacher_mix(teachers: list[Head], weights: np.ndarray, x: np.ndarray, temperature: float = 1.0,
                mix: str = "logits") -> np.ndarray:
    """(n, L) soft targets on proxy embeddings ``x``: softmax of the weighted mean logit
    (``mix="logits"``) or the weighted mean of the teachers' softened probabilities (``"probs"``)."""
    if mix not in ("logits", "probs"):
        raise ValueError("mix must be 'logits' or 'probs'.")
    out = np.zeros((len(x), teachers[0]["bias"].size))
    for a, t in zip(weights, teachers):
        z = (x @ t["weight"] + t["bias"]) / temperature
        out += a * (z if mix == "logits" else _softmax(z))
    return _softmax(out) if mix == "logits" else out


def distill(global_head: Head, deltas: list[Head], errors: list[float], proxy_x: np.ndarray, *,
            tau: float = 0.1, temperature: float = 1.0, steps: int = 200, lr: float = 0.5,
            reinit: bool = False, rng: np.random.Generator | None = None, mix: str = "logits") -> Head:
    """The student head distilled from the clients' models on ``proxy_x``."""
    x = np.asarray(proxy_x, np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError("Distillation needs a non-empty (n, d) proxy set.")
    teachers = [{k: np.asarray(global_head[k], np.float64) + np.asarray(d[k], np.float64) for k in global_head}
                for d in deltas]
    alpha = aggregation_weights("error", error=errors, tau=tau)
    target = teacher_mix(teachers, alpha, x, temperature, mix)
    w = np.asarray(global_head["weight"], np.float64).copy()
    b = np.asarray(global_head["bias"], np.float64).copy()
    if reinit:
        rng = rng or np.random.default_rng(0)
        w = rng.normal(0.0, 0.01, size=w.shape)
    scale = x.std() or 1.0
    for _ in range(steps):
        p = _softmax((x @ w + b) / temperature)
        g = (p - target) / (len(x) * temperature)
        w -= lr / scale ** 2 * (x.T @ g)
        b -= lr * g.sum(axis=0)
    return {"weight": w.astype(np.float32), "bias": b.astype(np.float32)}


def converged(previous: Head | None, current: Head, tol: float) -> bool:
    """True when the relative change of the head between rounds is below ``tol``."""
    if previous is None:
        return False
    num = sum(float(np.sum((current[k] - previous[k]) ** 2)) for k in current)
    den = sum(float(np.sum(previous[k] ** 2)) for k in previous) or 1.0
    return (num / den) ** 0.5 < tol

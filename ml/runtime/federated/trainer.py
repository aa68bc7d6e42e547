"""The phone's local trainer: softmax regression of the classifier head on window embeddings.

The trainable part is the head ``{"weight": (d, L), "bias": (L,)}`` on top of the frozen
backbone's embeddings (``embed_windows``). Local training is minibatch SGD on the mean
cross-entropy, plus FedProx's proximal term (μ/2)·||w − w_global||² when μ > 0 (Li et al.
2020), which keeps clients with few or skewed recordings close to the global model.

The phone sends ``delta = w_local − w_global`` (then clipped and quantised,
:mod:`ml.runtime.federated.codec`), the number of training windows n_k, the average training
loss of the last epoch and the local validation error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Head = dict[str, np.ndarray]


@dataclass(frozen=True)
class LocalHyper:
    epochs: int = 5
    lr: float = 0.05
    batch_size: int = 32
    mu: float = 0.0  # FedProx proximal weight (0 = FedAvg's plain local SGD)

    def validate(self) -> "LocalHyper":
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= 100):
            raise ValueError("epochs must be an integer in [1, 100].")
        if not (0 < self.lr <= 10) or not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096):
            raise ValueError("lr must be in (0, 10] and batch_size an integer in [1, 4096].")
        if not (0 <= self.mu <= 100):
            raise ValueError("mu must be in [0, 100].")
        return self


@dataclass(frozen=True)
class LocalResult:
    delta: Head
    n: int
    loss: float
    val_error: float


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def logits(head: Head, x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32) @ head["weight"] + head["bias"]


def error_rate(head: Head, x: np.ndarray, y: np.ndarray) -> float:
    if len(y) == 0:
        return 1.0
    return float(np.mean(np.argmax(logits(head, x), axis=1) != np.asarray(y)))


def train_head(head: Head, x: np.ndarray, y: np.ndarray, hyper: LocalHyper, rng: np.random.Generator,
               x_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> LocalResult:
    """Train a copy of ``head`` on embeddings ``x`` (n, d) with integer labels ``y`` (n,).

    ``val_error`` is measured on (``x_val``, ``y_val``) when given, else on the training data.
    """
    hyper.validate()
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int64)
    w0, b0 = np.asarray(head["weight"], np.float32), np.asarray(head["bias"], np.float32)
    if x.ndim != 2 or x.shape[1] != w0.shape[0] or len(y) != len(x) or len(x) == 0:
        raise ValueError(f"Need (n, {w0.shape[0]}) embeddings with n >= 1 labels, got {x.shape} and {y.shape}.")
    if y.min() < 0 or y.max() >= w0.shape[1]:
        raise ValueError("Labels must index the head's outputs.")
    w, b = w0.copy(), b0.copy()
    n = len(x)
    last_losses: list[float] = []
    for _ in range(hyper.epochs):
        order = rng.permutation(n)
        last_losses = []
        for start in range(0, n, hyper.batch_size):
            idx = order[start: start + hyper.batch_size]
            xb, yb = x[idx], y[idx]
            p = _softmax(xb @ w + b)
            last_losses.append(float(-np.mean(np.log(p[np.arange(len(yb)), yb] + 1e-12))) * len(yb))
            p[np.arange(len(yb)), yb] -= 1.0
            p /= len(yb)
            gw = xb.T @ p
            gb = p.sum(axis=0)
            if hyper.mu > 0:
                gw += hyper.mu * (w - w0)
                gb += hyper.mu * (b - b0)
            w -= hyper.lr * gw
            b -= hyper.lr * gb
    new = {"weight": w, "bias": b}
    val_err = error_rate(new, x_val, y_val) if x_val is not None and y_val is not None and len(y_val) \
        else error_rate(new, x, y)
    return LocalResult(delta={"weight": w - w0, "bias": b - b0}, n=n, loss=sum(last_losses) / n, val_error=val_err)

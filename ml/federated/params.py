"""Parameter dicts (``{name: ndarray}``) and the flat vectors strategies compute on."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

Params = dict[str, np.ndarray]


def names_of(p: Mapping[str, np.ndarray]) -> list[str]:
    return sorted(p)


def flatten(p: Mapping[str, np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
    """One float64 vector of every tensor in ``names`` order (sorted names by default)."""
    names = list(names) if names is not None else names_of(p)
    return np.concatenate([np.asarray(p[n], np.float64).ravel() for n in names]) if names else np.zeros(0)


def unflatten(vec: np.ndarray, like: Mapping[str, np.ndarray]) -> Params:
    """Split ``vec`` back into tensors shaped like ``like`` (sorted names), float32."""
    out: Params = {}
    i = 0
    for n in names_of(like):
        size = int(np.prod(np.shape(like[n]), dtype=np.int64))
        out[n] = vec[i: i + size].reshape(np.shape(like[n])).astype(np.float32)
        i += size
    if i != vec.size:
        raise ValueError(f"Vector of {vec.size} values does not fit tensors of {i} values.")
    return out


def stack(updates: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """(K, P) float64 matrix of K updates with identical names and shapes."""
    if not updates:
        raise ValueError("No updates to aggregate.")
    names = names_of(updates[0])
    shapes = {n: np.shape(updates[0][n]) for n in names}
    for k, u in enumerate(updates):
        if names_of(u) != names or any(np.shape(u[n]) != shapes[n] for n in names):
            raise ValueError(f"Update {k} does not have the tensors and shapes of update 0.")
    return np.stack([flatten(u, names) for u in updates])


def add(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], scale: float = 1.0) -> Params:
    return {n: (np.asarray(a[n], np.float64) + scale * np.asarray(b[n], np.float64)).astype(np.float32) for n in a}


def subtract(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> Params:
    return add(a, b, -1.0)


def l2_norm(p: Mapping[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(np.asarray(v, np.float64)))) for v in p.values())))


def n_values(p: Mapping[str, np.ndarray]) -> int:
    return int(sum(np.size(v) for v in p.values()))

"""k-medoids with farthest-first initialisation (pure numpy): the review queue's clustering."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clustering:
    medoids: np.ndarray   # (k,) indices into the points
    labels: np.ndarray    # (n,) cluster index of each point (0..k-1)

    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.medoids))


def pairwise_distances(x: np.ndarray) -> np.ndarray:
    """(n, n) Euclidean distances."""
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2)


def farthest_first(dist: np.ndarray, k: int) -> np.ndarray:
    """Start at the point nearest the centre, then repeatedly add the point farthest from the chosen."""
    first = int(np.argmin(dist.sum(axis=1)))
    chosen = [first]
    nearest = dist[first].copy()
    while len(chosen) < k:
        nxt = int(np.argmax(nearest))
        if nearest[nxt] <= 0.0:
            break  # only duplicates left
        chosen.append(nxt)
        nearest = np.minimum(nearest, dist[nxt])
    return np.array(chosen, dtype=int)


def kmedoids(x: np.ndarray, k: int, max_iter: int = 50) -> Clustering:
    """Alternate assignment and medoid update (Voronoi iteration) from a farthest-first start."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        return Clustering(np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    k = max(1, min(int(k), n))
    dist = pairwise_distances(x)
    medoids = farthest_first(dist, k)
    for _ in range(max_iter):
        labels = np.argmin(dist[:, medoids], axis=1)
        updated = medoids.copy()
        for c in range(len(medoids)):
            members = np.flatnonzero(labels == c)
            if members.size:
                updated[c] = members[np.argmin(dist[np.ix_(members, members)].sum(axis=1))]
        if np.array_equal(updated, medoids):
            break
        medoids = updated
    labels = np.argmin(dist[:, medoids], axis=1)
    return Clustering(medoids, labels)


def default_k(n: int) -> int:
    """k ≈ N/3 (at least one cluster)."""
    return max(1, round(n / 3))

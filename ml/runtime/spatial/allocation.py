"""Temporal allocation for the artistic mix: stagger onsets so recordings stay distinguishable.

Greedy, in priority order: each recording starts at the earliest time that is at least
``min_gap_s`` after every onset already placed and keeps the number of recordings sounding at
once within ``max_overlap``. Recordings that cannot fit before ``total_s`` are left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Placement:
    index: int
    onset_s: float
    duration_s: float


def allocate_onsets(durations_s: list[float], total_s: float, *, max_overlap: int = 3,
                    min_gap_s: float = 1.5, step_s: float = 0.05) -> list[Placement]:
    """Onsets for recordings of the given durations (already in priority order)."""
    placed: list[Placement] = []
    grid = np.arange(0.0, max(total_s, 0.0) + 1e-9, step_s)
    for i, dur in enumerate(durations_s):
        if not np.isfinite(dur) or dur <= 0:
            continue
        for t in grid:
            if t + dur > total_s:
                break
            if any(abs(t - p.onset_s) < min_gap_s for p in placed):
                continue
            probe = np.arange(t, t + dur, step_s)
            active = np.zeros(probe.size, dtype=int)
            for p in placed:
                active += (probe >= p.onset_s) & (probe < p.onset_s + p.duration_s)
            if active.max(initial=0) < max_overlap:
                placed.append(Placement(i, float(t), float(dur)))
                break
    return sorted(placed, key=lambda p: p.onset_s)


def max_concurrency(placements: list[Placement], step_s: float = 0.01) -> int:
    """Largest number of placements sounding at the same moment."""
    if not placements:
        return 0
    end = max(p.onset_s + p.duration_s for p in placements)
    t = np.arange(0.0, end, step_s)
    return int(sum(((t >= p.onset_s) & (t < p.onset_s + p.duration_s)).astype(int) for p in placements).max())

"""Playback specifications from grouped observations (pure functions, no Django).

Input rows are per (species, grid square) groups; output is one spec per cell:
``{"cell", "window", "sources": [{id, lat, lng, species, count, clip, gain, rate}]}``, sources
sorted loudest-first (most finds), at most ``MAX_SOURCES_PER_CELL``. Gain and rate hints come
from :mod:`ml.runtime.spatial.mapping`, the same functions the phone's renderer uses.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.runtime.spatial.mapping import base_gain, playback_rate

MAX_SOURCES_PER_CELL = 64
NO_RECORDING = bytes(16)


@dataclass(frozen=True)
class Group:
    species: str
    gy: int
    gx: int
    count: int
    lat: float
    lng: float
    recording_id: str | None = None
    confidence: float | None = None


@dataclass
class CellGroups:
    groups: list[Group]
    n_observations: int


def group_observations(species: np.ndarray, lat: np.ndarray, lng: np.ndarray, confidence: np.ndarray,
                       recording: np.ndarray, labels: dict[int, str], grid_deg: float,
                       cell_of_square: Callable[[int, int], str],
                       limit: int = MAX_SOURCES_PER_CELL) -> dict[str, CellGroups]:
    """Group observations (parallel arrays) per cell, species and grid square, in numpy.

    ``recording`` holds 16-byte UUIDs (``NO_RECORDING`` when none), ``confidence`` −1 when
    unknown. Each cell keeps its ``limit`` largest groups (ties: species id, square); each
    group names its best recording (highest confidence, then smallest id). The cell of a
    group is the cell of its grid square's centre.
    """
    n = species.size
    if n == 0:
        return {}
    gy = np.floor(lat / grid_deg).astype(np.int64)
    gx = np.floor(lng / grid_deg).astype(np.int64)
    span = int(np.ceil(360.0 / grid_deg)) + 1           # square key = row-major index on the globe
    sq_keys, sq_inv = np.unique((gy + span) * (2 * span) + (gx + span), return_inverse=True)
    sq_inv = sq_inv.ravel()
    squares = np.stack([sq_keys // (2 * span) - span, sq_keys % (2 * span) - span], axis=1)
    cell_names, cell_of_sq = np.unique(np.array([cell_of_square(int(a), int(b)) for a, b in squares]),
                                       return_inverse=True)
    sp_ids, sp_inv = np.unique(species, return_inverse=True)
    keys, g_inv, g_count = np.unique(sq_inv.astype(np.int64) * sp_ids.size + sp_inv, return_inverse=True,
                                     return_counts=True)
    g_inv = g_inv.ravel()
    g_lat = np.bincount(g_inv, weights=lat) / g_count
    g_lng = np.bincount(g_inv, weights=lng) / g_count
    g_sq, g_sp = keys // sp_ids.size, keys % sp_ids.size
    g_cell = cell_of_sq.ravel()[g_sq]
    order = np.lexsort((squares[g_sq, 1], squares[g_sq, 0], sp_ids[g_sp], -g_count, g_cell))
    sorted_cells = g_cell[order]
    first = np.searchsorted(sorted_cells, sorted_cells, side="left")
    keep = order[(np.arange(order.size) - first) < limit]
    totals = np.bincount(g_cell, weights=g_count, minlength=cell_names.size)
    # best recording per group
    rec = np.ascontiguousarray(recording).view(np.uint64).reshape(n, 2) if n else np.zeros((0, 2), np.uint64)
    has = np.any(rec != 0, axis=1)
    best: dict[int, tuple[str, float]] = {}
    if np.any(has):
        rows = np.flatnonzero(has)
        o = np.lexsort((rec[rows, 1], rec[rows, 0], -confidence[rows], g_inv[rows]))
        ranked = rows[o]
        _, firsts = np.unique(g_inv[ranked], return_index=True)
        for r in ranked[firsts]:
            best[int(g_inv[r])] = (_uuid_text(bytes(recording[r])), float(confidence[r]))
    out: dict[str, CellGroups] = {}
    for gi in keep.tolist():
        cell = str(cell_names[g_cell[gi]])
        entry = out.get(cell)
        if entry is None:
            entry = out[cell] = CellGroups([], int(totals[g_cell[gi]]))
        rec_id, conf = best.get(gi, (None, None))
        entry.groups.append(Group(labels[int(sp_ids[g_sp[gi]])], int(squares[g_sq[gi], 0]),
                                  int(squares[g_sq[gi], 1]), int(g_count[gi]), float(g_lat[gi]), float(g_lng[gi]),
                                  rec_id, None if conf is None or conf < 0 else conf))
    return out


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def representative_recordings(groups: list[Group]) -> dict[str, str]:
    """Per species, the recording with the highest confidence among the cell's groups."""
    best: dict[str, tuple[float, str]] = {}
    for g in groups:
        if g.recording_id is None:
            continue
        score = g.confidence if g.confidence is not None else -1.0
        if g.species not in best or (score, g.recording_id) > best[g.species]:
            best[g.species] = (score, g.recording_id)
    return {sp: rec for sp, (_, rec) in best.items()}


ClipResolver = Callable[[str, str | None], dict | None]   # (species, recording id) → clip or None


def cell_spec(cell: str, window: str, groups: list[Group], clip_for: ClipResolver) -> dict:
    """The spec of one cell."""
    reps = representative_recordings(groups)
    ordered = sorted(groups, key=lambda g: (-g.count, g.species, g.gy, g.gx))[:MAX_SOURCES_PER_CELL]
    counts = np.array([g.count for g in ordered], dtype=np.float64)
    gains = np.round(base_gain(counts), 3).tolist()
    rates = np.round(playback_rate(counts), 3).tolist()
    clips: dict[str, dict | None] = {}
    sources = []
    for g, gain, rate in zip(ordered, gains, rates):
        if g.species not in clips:
            clips[g.species] = clip_for(g.species, reps.get(g.species))
        sources.append({
            "id": hashlib.sha1(f"{g.species}|{g.gy}|{g.gx}".encode()).hexdigest()[:12],
            "lat": round(g.lat, 6), "lng": round(g.lng, 6), "species": g.species, "count": g.count,
            "clip": clips[g.species], "gain": gain, "rate": rate,
        })
    return {"cell": cell, "window": window, "sources": sources}


def spec_etag(spec: dict) -> str:
    """Content hash of a spec (what players in the cell share); built_at is not part of it."""
    body = json.dumps({k: spec[k] for k in ("cell", "window", "sources")}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:32]

"""Adaptive augmented-reality mix: keep each source a margin above the ambient masking level.

For each source, its main bands — the octave bands within ``main_band_db`` of its strongest one,
at the ear, after its gains — are compared with the ambient level in the same bands; the source
is raised by what it lacks to be ``margin_db`` above the ambience in all of them, at most
``max_boost_db`` and never above ``ceiling_dbfs`` in its strongest band. The boost
moves by at most ``slew_db_per_s`` (smooth, no zipper noise) toward a target recomputed every
``update_interval_s`` (the ambience is itself smoothed over 0.3–1.5 s, so a faster control rate
would only cost CPU); the total output level is capped
separately by the output limiter, so a loud street is never fought to a harmful level.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AdaptiveConfig:
    margin_db: float = 6.0
    max_boost_db: float = 18.0
    ceiling_dbfs: float = -12.0
    slew_db_per_s: float = 12.0
    main_band_db: float = 3.0
    update_interval_s: float = 0.1   # targets are recomputed at this control rate; gains slew every block


def target_boost_db(source_band_db: np.ndarray, ambient_db: np.ndarray, cfg: AdaptiveConfig) -> np.ndarray:
    """Boost (dB, ≥ 0) each source needs; ``source_band_db`` is (n_sources, n_bands) at the ear."""
    if source_band_db.size == 0:
        return np.zeros(0)
    level = np.max(source_band_db, axis=1)
    main = source_band_db >= (level - cfg.main_band_db)[:, None]
    need = np.max(np.where(main, ambient_db[None, :] + cfg.margin_db - source_band_db, -np.inf), axis=1)
    room = cfg.ceiling_dbfs - level
    boost = np.minimum(np.clip(need, 0.0, cfg.max_boost_db), np.maximum(room, 0.0))
    return np.where(np.isfinite(boost), boost, 0.0)


def slew(current_db: np.ndarray, target_db: np.ndarray, max_step_db: float) -> np.ndarray:
    """Move ``current`` toward ``target`` by at most ``max_step_db``."""
    return current_db + np.clip(target_db - current_db, -max_step_db, max_step_db)

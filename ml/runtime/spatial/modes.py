"""Listening modes: constant, focused and interactive, as per-source gains.

* constant — every source; ``isolate`` keeps only one species.
* focused — only sources within ±``half_width_deg`` of where the phone points, with a
  raised-cosine edge ``edge_deg`` wide down to ``floor_db`` (−60 dB) outside.
* interactive — silent until activated (a tilt past ``TILT_ACTIVATE_DEG`` or a gesture); once
  active, one source can be brought forward (+6 dB, the others −12 dB).

In every mode, recording (the record button lives in interactive mode) silences the scene so
the player hears the real place while recording.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .geometry import wrap180

TILT_ACTIVATE_DEG = 35.0
FORWARD_BOOST_DB = 6.0
BACKGROUND_DUCK_DB = -12.0


class Mode(str, enum.Enum):
    CONSTANT = "constant"
    FOCUSED = "focused"
    INTERACTIVE = "interactive"


@dataclass(frozen=True)
class ListeningMode:
    mode: Mode = Mode.CONSTANT
    isolate_species: str | None = None
    half_width_deg: float = 30.0
    edge_deg: float = 20.0
    floor_db: float = -60.0
    active: bool = False
    forward_source: str | None = None
    recording: bool = False


def tilt_activates(pitch_deg: float | None, threshold_deg: float = TILT_ACTIVATE_DEG) -> bool:
    """Raising the phone (pitch beyond the threshold) activates the interactive scene."""
    return pitch_deg is not None and np.isfinite(pitch_deg) and abs(pitch_deg) >= threshold_deg


def focus_window(delta_deg: np.ndarray, half_width_deg: float, edge_deg: float, floor_db: float) -> np.ndarray:
    """1 inside ±half_width, raised-cosine down to the floor over ``edge_deg``; NaN → floor."""
    floor = 10 ** (floor_db / 20.0)
    d = np.abs(wrap180(np.nan_to_num(np.asarray(delta_deg, dtype=np.float64), nan=180.0)))
    x = np.clip((d - half_width_deg) / max(edge_deg, 1e-9), 0.0, 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + np.cos(np.pi * x))


def mode_gains(state: ListeningMode, species: list[str], source_ids: list[str],
               bearing_deg: np.ndarray, pointing_deg: float | None) -> np.ndarray:
    """Per-source amplitude gains for the listening mode."""
    n = len(species)
    if state.recording:
        return np.zeros(n)
    g = np.ones(n)
    if state.isolate_species is not None:
        g *= np.array([s == state.isolate_species for s in species], dtype=np.float64)
    if state.mode == Mode.FOCUSED:
        if pointing_deg is None or not np.isfinite(pointing_deg):
            return g * 10 ** (state.floor_db / 20.0)
        g *= focus_window(np.asarray(bearing_deg) - pointing_deg, state.half_width_deg, state.edge_deg,
                          state.floor_db)
    elif state.mode == Mode.INTERACTIVE:
        if not state.active:
            return np.zeros(n)
        if state.forward_source is not None and state.forward_source in source_ids:
            fwd = np.array([i == state.forward_source for i in source_ids])
            g *= np.where(fwd, 10 ** (FORWARD_BOOST_DB / 20), 10 ** (BACKGROUND_DUCK_DB / 20))
    return g

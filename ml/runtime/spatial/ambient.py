"""Ambient level per octave band from the microphone, smoothed over time (streaming)."""
from __future__ import annotations

import numpy as np

from .bands import FLOOR_DB, FRAME, OCTAVE_CENTRES_HZ, frame_band_power


class AmbientMeter:
    """Feed microphone blocks; ``levels_db`` holds smoothed band levels (None until measured).

    Levels follow rises with ``attack_s`` and falls with ``release_s`` (exponential, power
    domain). Non-finite samples discard the block (``last_error`` says so).
    """

    def __init__(self, attack_s: float = 0.3, release_s: float = 1.5, offset_db: float = 0.0):
        self.attack_s, self.release_s = attack_s, release_s
        self.offset_db = offset_db   # calibration: microphone dBFS → headphone output dBFS
        self._pending = np.zeros(0)
        self._sr: int | None = None
        self._power: np.ndarray | None = None
        self.last_error: str | None = None

    @property
    def levels_db(self) -> np.ndarray | None:
        if self._power is None:
            return None
        return 10 * np.log10(np.maximum(self._power, 10 ** (FLOOR_DB / 10))) + self.offset_db

    def feed(self, samples: np.ndarray, sample_rate: int) -> None:
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if not np.all(np.isfinite(x)) or sample_rate <= 0:
            self.last_error = "ambient_non_finite"
            return
        self.last_error = None
        if self._sr != sample_rate:
            self._pending, self._sr = np.zeros(0), sample_rate
        buf = np.concatenate([self._pending, x])
        n = buf.size // FRAME
        if n == 0:
            self._pending = buf
            return
        frames = frame_band_power(buf[: n * FRAME], sample_rate)
        self._pending = buf[n * FRAME:]
        dt = FRAME / sample_rate
        a_up, a_down = 1 - np.exp(-dt / self.attack_s), 1 - np.exp(-dt / self.release_s)
        for p in frames:
            if self._power is None:
                self._power = p.copy()
                continue
            alpha = np.where(p > self._power, a_up, a_down)
            self._power += alpha * (p - self._power)

    def reset(self) -> None:
        self._pending, self._power = np.zeros(0), None


N_BANDS = OCTAVE_CENTRES_HZ.size

"""Output safety: a one-block look-ahead limiter capping the peak and the block RMS level.

The gain ramps linearly within each block between values that both satisfy the block's own
limit, so no sample exceeds ``peak_limit`` (clip-free) and the gain never jumps (click-free).
The price is one block of latency. Releases are limited to ``release_db_per_s``.
"""
from __future__ import annotations

import numpy as np


class LookaheadLimiter:
    def __init__(self, block_size: int, sample_rate: int, peak_limit: float = 0.891,
                 max_rms_dbfs: float = -12.0, release_db_per_s: float = 6.0):
        self.block_size, self.peak_limit = block_size, peak_limit
        self.max_rms = 10 ** (max_rms_dbfs / 20.0)
        self.release = 10 ** (release_db_per_s * block_size / sample_rate / 20.0)
        self._held: np.ndarray | None = None
        self._held_need = 1.0
        self._gain = 1.0
        self._ramp = np.arange(1, block_size + 1, dtype=np.float32)[:, None] / block_size
        self.gain_db = 0.0

    def _need(self, block: np.ndarray) -> float:
        if not block.size:
            return 1.0
        flat = block.ravel()
        peak = max(float(flat.max()), -float(flat.min()))
        rms = float(np.sqrt(np.dot(flat, flat) / flat.size))
        need = 1.0
        if peak > self.peak_limit:
            need = self.peak_limit / peak
        if rms > self.max_rms:
            need = min(need, self.max_rms / rms)
        return need

    def process(self, block: np.ndarray) -> np.ndarray:
        """Take the newest block, return the previous one limited (zeros on the first call)."""
        need = self._need(block)
        if self._held is None:
            self._held, self._held_need = block, need
            self._gain = min(1.0, need)
            return np.zeros_like(block)
        start = self._gain
        end = min(start * self.release, 1.0, self._held_need, need)
        start = min(start, self._held_need)   # cannot happen by construction; kept as a guard
        ramp = self._ramp[: self._held.shape[0]]
        out = self._held * (start + (end - start) * ramp)
        self._gain, self._held, self._held_need = end, block, need
        self.gain_db = 20 * np.log10(max(end, 1e-12))
        return out.astype(np.float32, copy=False)

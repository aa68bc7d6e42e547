"""Virtual sources and their prepared loop buffers (resampled for rate, band-split, profiled).

A source loops its clip: the clip (RMS-normalised to ``CLIP_RMS_DBFS``, peak ≤ 1, 10 ms fades)
played at its rate, then ``gap_s`` of silence. Buffers are prepared once per (clip, rate) and
laid out in one flat array per band with circular padding, so reading a block with any delay
up to ``max_delay`` is a plain gather without wrap-around arithmetic.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ml.runtime.audio import resample

from .bands import band_levels_db, split_bands
from .mapping import playback_rate

CLIP_RMS_DBFS = -20.0
FADE_S = 0.01


@dataclass
class VirtualSource:
    """One sound on the map. ``rate`` None → from ``count``; offsets/gaps None → from ``id``."""

    id: str
    lat: float
    lng: float
    species: str
    samples: np.ndarray
    sample_rate: int
    count: int = 1
    gain: float = 1.0
    rate: float | None = None
    start_offset_s: float | None = None
    gap_s: float | None = None

    def _unit(self, salt: str) -> float:
        d = hashlib.sha256(f"{salt}:{self.id}".encode()).digest()
        return int.from_bytes(d[:8], "big") / 2**64

    def effective_rate(self) -> float:
        r = self.rate if self.rate is not None and np.isfinite(self.rate) else float(playback_rate(self.count))
        return float(np.clip(r, 0.25, 4.0))

    def effective_gap_s(self) -> float:
        return float(self.gap_s) if self.gap_s is not None else 1.0 + 3.0 * self._unit("gap")

    def effective_offset_s(self) -> float:
        return float(self.start_offset_s) if self.start_offset_s is not None else 10.0 * self._unit("offset")


def prepare_loop(samples: np.ndarray, sample_rate: int, rate: float, gap_s: float,
                 out_rate: int) -> np.ndarray:
    """The source's loop at ``out_rate``: normalised clip played at ``rate`` plus silence."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if x.size == 0:
        x = np.zeros(1, dtype=np.float32)
    # playing at `rate` = pretending the clip was sampled at sample_rate * rate
    virtual_sr = int(round(sample_rate * rate))
    y = resample(x, virtual_sr, out_rate) if virtual_sr != out_rate else x.copy()
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    if rms > 0:
        y = y * min(10 ** (CLIP_RMS_DBFS / 20) / rms, 1.0 / max(float(np.max(np.abs(y))), 1e-9))
    n_fade = min(int(FADE_S * out_rate), y.size // 2)
    if n_fade:
        ramp = np.linspace(0.0, 1.0, n_fade, dtype=np.float32)
        y[:n_fade] *= ramp
        y[-n_fade:] *= ramp[::-1]
    total = fast_length(y.size + int(gap_s * out_rate))   # a 5-smooth length keeps the FFTs fast
    return np.concatenate([y, np.zeros(total - y.size, dtype=np.float32)]).astype(np.float32)


def fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c ≥ n."""
    best = 1 << max(int(n - 1).bit_length(), 0)
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35 << max(int(np.ceil(np.log2(max(n / p35, 1.0)))), 0)
            best = min(best, m) if m >= n else best
            p35 *= 3
        p5 *= 5
    return max(best, 1)


@dataclass
class PreparedLoop:
    low: np.ndarray
    high: np.ndarray
    band_db: np.ndarray

    @property
    def length(self) -> int:
        return self.low.size


class LoopCache:
    """Prepared loops keyed by (clip identity, rate, gap); clips are shared by many sources."""

    def __init__(self, out_rate: int, max_items: int = 512):
        self.out_rate, self.max_items = out_rate, max_items
        self._items: dict[tuple, PreparedLoop] = {}

    def get(self, src: VirtualSource) -> PreparedLoop:
        arr = np.ascontiguousarray(src.samples)
        key = (hashlib.sha1(arr.tobytes()).hexdigest(), src.sample_rate, round(src.effective_rate(), 4),
               round(src.effective_gap_s(), 3))
        if key not in self._items:
            if len(self._items) >= self.max_items:
                self._items.pop(next(iter(self._items)))
            loop = prepare_loop(arr, src.sample_rate, src.effective_rate(), src.effective_gap_s(), self.out_rate)
            low, high = split_bands(loop, self.out_rate)
            self._items[key] = PreparedLoop(low, high, band_levels_db(loop, self.out_rate))
        return self._items[key]


class FlatBank:
    """All loops of the current scene in one flat array with circular padding.

    The low bands of every loop come first, then the high bands (``high_offset`` further on),
    so one gather reads any mix of sources, bands and delays: ``window[starts[i] + pos - delay
    (+ high_offset)]`` is ``post - 1`` samples of source ``i``'s low (high) band.
    """

    def __init__(self, loops: list[PreparedLoop], pre: int, post: int):
        self.pre, self.post = pre, post
        self.lengths = np.array([lp.length for lp in loops], dtype=np.int64)
        parts_low, parts_high, starts, at = [], [], [], 0
        for lp in loops:
            for parts, sig in ((parts_low, lp.low), (parts_high, lp.high)):
                parts.append(np.take(sig, np.arange(-pre, sig.size + post), mode="wrap"))
            starts.append(at + pre)
            at += pre + lp.length + post
        self.starts = np.array(starts, dtype=np.int64)
        self.high_offset = max(at, 1)
        flat = (np.concatenate(parts_low + parts_high) if loops else np.zeros(2, np.float32))
        width = max(post - 1, 1)
        # a read-only strided view: window[i] is the `post - 1` samples starting at i
        self.window = np.lib.stride_tricks.sliding_window_view(np.pad(flat, (0, width)), width)

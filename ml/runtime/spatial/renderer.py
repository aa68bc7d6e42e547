"""The streaming spatial renderer: virtual sources + listener → stereo float32 blocks at 48 kHz.

Per block: geometry (haversine distance, bearing, azimuth from the resolved heading) → gains
(base × distance × listening mode × heading dimming × adaptive boost) and cues (per-ear band
gains, per-ear ITD delays) → one gather per ear and band from the flat loop bank → a matrix
product mixes all sources at once, with every gain ramped linearly across the block (no zipper
noise) and ITD changes cross-faded → look-ahead limiter (peak and RMS cap, one block latency).

Bad input never yields NaN audio: an invalid listener position fades the scene to silence, an
invalid source position fades that source out, a missing/NaN heading falls back (head tracker
→ course → compass) or suspends direction cues and dims; ``RenderStatus.reasons`` says why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .adaptive import AdaptiveConfig, slew, target_boost_db
from .ambient import AmbientMeter
from .bands import high_band_of
from .cues import MAX_ITD_S, ear_delays, ear_gains
from .geometry import relative_geometry, valid_position
from .heading import HeadingReading, resolve_heading
from .limiter import LookaheadLimiter
from .mapping import distance_gain
from .modes import ListeningMode, mode_gains
from .sources import FlatBank, LoopCache, VirtualSource

SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class RenderConfig:
    sample_rate: int = SAMPLE_RATE
    block_size: int = 1024
    cue_mode: str = "binaural"
    ref_distance_m: float = 5.0
    max_distance_m: float = 400.0
    no_heading_dim_db: float = -12.0
    master_gain: float = 1.0
    adaptive: AdaptiveConfig | None = field(default_factory=AdaptiveConfig)
    peak_limit: float = 0.891            # −1 dBFS
    max_output_rms_dbfs: float = -12.0   # total output cap (with the headphone calibration)
    ambient_offset_db: float = 0.0       # microphone dBFS + offset = headphone dBFS


@dataclass(frozen=True)
class RenderStatus:
    heading_source: str
    silenced: bool
    reasons: tuple[str, ...]
    n_audible: int
    boost_db: np.ndarray
    limiter_gain_db: float


class SpatialRenderer:
    """Stateful block renderer; call the setters any time, then :meth:`render_block`."""

    def __init__(self, config: RenderConfig | None = None):
        self.cfg = config or RenderConfig()
        n, sr = self.cfg.block_size, self.cfg.sample_rate
        self._cache = LoopCache(sr)
        self._pre = int(math.ceil(MAX_ITD_S * sr)) + 2
        self._ramp = (np.arange(1, n + 1, dtype=np.float32) / n)
        self._ar = np.arange(n, dtype=np.int64)
        self.ambient = AmbientMeter(offset_db=self.cfg.ambient_offset_db)
        self.limiter = LookaheadLimiter(n, sr, self.cfg.peak_limit, self.cfg.max_output_rms_dbfs)
        self.mode = ListeningMode()
        self._lat = self._lng = float("nan")
        self._heading: HeadingReading | float | None = None
        self._pointing: float | None = None
        self._set([])

    # --- scene --------------------------------------------------------------------------
    def _set(self, sources: list[VirtualSource], carry: dict | None = None) -> None:
        carry = carry or {}
        self.sources = list(sources)
        loops = [self._cache.get(s) for s in self.sources]
        self._band_db = (np.array([lp.band_db for lp in loops]) if loops
                         else np.zeros((0, high_band_of().size)))
        self._bank = FlatBank(loops, self._pre, self.cfg.block_size + 1)
        n = len(self.sources)
        sr = self.cfg.sample_rate
        self._ids = [s.id for s in self.sources]
        self._species = [s.species for s in self.sources]
        self._src_lat = np.array([_num(s.lat) for s in self.sources], dtype=np.float64)
        self._src_lng = np.array([_num(s.lng) for s in self.sources], dtype=np.float64)
        self._base = np.array([max(_num(s.gain), 0.0) if math.isfinite(_num(s.gain)) else 0.0
                               for s in self.sources])
        self._pos = np.zeros(n, dtype=np.int64)
        self._gains = np.zeros((n, 4), dtype=np.float32)
        self._delays = np.zeros((n, 2), dtype=np.int64)
        self._boost = np.zeros(n)
        self._buf = np.zeros((2 * n, self.cfg.block_size), dtype=np.float32)
        self._src_ok = valid_position(self._src_lat, self._src_lng)
        for i, s in enumerate(self.sources):
            if s.id in carry:
                self._pos[i], self._gains[i], self._delays[i], self._boost[i] = carry[s.id]
                self._pos[i] %= self._bank.lengths[i]
            else:
                self._pos[i] = int(s.effective_offset_s() * sr) % self._bank.lengths[i]

    def set_sources(self, sources: list[VirtualSource]) -> None:
        """Replace the scene; sources keeping their id keep their state, new ones fade in."""
        carry = {sid: (self._pos[i], self._gains[i].copy(), self._delays[i].copy(), self._boost[i])
                 for i, sid in enumerate(self._ids)}
        self._set(sources, carry)

    def set_listener(self, lat: float, lng: float, heading: HeadingReading | float | None = None,
                     pointing_deg: float | None = None) -> None:
        """Listener position (WGS84), heading sensors, and where the phone points (focused mode)."""
        self._lat, self._lng = _num(lat), _num(lng)
        self._heading, self._pointing = heading, pointing_deg

    def set_mode(self, mode: ListeningMode) -> None:
        self.mode = mode

    def feed_ambient(self, samples: np.ndarray, sample_rate: int) -> None:
        """Microphone audio for the adaptive mix."""
        self.ambient.feed(samples, sample_rate)

    # --- rendering ----------------------------------------------------------------------
    def _targets(self, reasons: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        cfg, n = self.cfg, len(self.sources)
        heading, hsrc = resolve_heading(self._heading)
        if hsrc == "none":
            reasons.append("no_heading")
        listener_ok = bool(valid_position(self._lat, self._lng))
        if not listener_ok:
            reasons.append("listener_position_invalid")
        src_ok = self._src_ok
        for i in np.flatnonzero(~src_ok)[:5]:
            reasons.append(f"source_position_invalid:{self._ids[i]}")
        if n == 0:
            return np.zeros((0, 4), np.float32), np.zeros((0, 2), np.int64), np.zeros(0), hsrc
        if listener_ok:
            with np.errstate(invalid="ignore"):
                az, dist, bear = relative_geometry(self._lat, self._lng, heading, self._src_lat, self._src_lng)
        else:
            az = dist = bear = np.full(n, np.nan)
        pointing = self._pointing if self._pointing is not None and math.isfinite(_num(self._pointing)) else heading
        g = (self._base * distance_gain(dist, cfg.ref_distance_m, cfg.max_distance_m)
             * mode_gains(self.mode, self._species, self._ids, bear, pointing) * cfg.master_gain)
        if heading is None:
            g = g * 10 ** (cfg.no_heading_dim_db / 20)
        g = np.where(src_ok & listener_ok & np.isfinite(g), g, 0.0)
        cue = ear_gains(az, cfg.cue_mode)
        delays = ear_delays(az, cfg.sample_rate, cfg.cue_mode)
        self._adapt(g, cue, reasons)
        gains = (cue * (g * 10 ** (self._boost / 20))[:, None]).astype(np.float32)
        return gains, delays, g, hsrc

    def _adapt(self, g: np.ndarray, cue: np.ndarray, reasons: list[str]) -> None:
        acfg = self.cfg.adaptive
        ambient = self.ambient.levels_db if acfg is not None else None
        if self.ambient.last_error:
            reasons.append(self.ambient.last_error)
        step = (acfg.slew_db_per_s if acfg else 12.0) * self.cfg.block_size / self.cfg.sample_rate
        if ambient is None or not np.all(np.isfinite(ambient)):
            self._boost = slew(self._boost, np.zeros_like(self._boost), step)
            return
        high = high_band_of()
        ear = np.where(high[None, :], np.maximum(cue[:, 2], cue[:, 3])[:, None],
                       np.maximum(cue[:, 0], cue[:, 1])[:, None])
        with np.errstate(divide="ignore"):
            at_ear = self._band_db + 20 * np.log10(g[:, None] * ear)
        target = target_boost_db(np.where(np.isfinite(at_ear), at_ear, -300.0), ambient, acfg)
        target = np.where(g > 0, target, self._boost)   # a muted source keeps its boost
        self._boost = slew(self._boost, target, step)

    def _ear(self, ear: int, new_gains: np.ndarray, new_delays: np.ndarray) -> np.ndarray:
        """One ear: gains ramp from the previous block's to the new ones, ITD changes cross-fade.

        Both bands of all sources are gathered into one (2S, N) matrix, so the mix is one
        (2, 2S) @ (2S, N) product (row 0: gains at the block start, row 1: their change, ramped
        by t). A source whose delay changed fades from its old-delay signal to its new one:
        with D = old − new, (a + b·t)(1 − t)·D = (a + (b − a)·t − b·t²)·D adds one small product.
        """
        n_src = len(self.sources)
        t = self._ramp
        start = self._bank.starts + self._pos
        x = self._buf[: 2 * n_src]
        for band in (0, 1):
            x[band * n_src:(band + 1) * n_src] = self._bank.windows[band][start - new_delays[:, ear]]
        a = np.concatenate([self._gains[:, ear], self._gains[:, 2 + ear]])
        b = np.concatenate([new_gains[:, ear], new_gains[:, 2 + ear]]) - a
        mixed = np.stack([a, b]) @ x
        out = mixed[0] + t * mixed[1]
        changed = np.flatnonzero(new_delays[:, ear] != self._delays[:, ear])
        if changed.size:
            old_start = start[changed] - self._delays[changed, ear]
            rows = np.concatenate([changed, changed + n_src])
            d = np.concatenate([self._bank.windows[0][old_start], self._bank.windows[1][old_start]]) - x[rows]
            ac, bc = a[rows], b[rows]
            fade = np.stack([ac, bc - ac, bc]) @ d
            out += fade[0] + t * (fade[1] - t * fade[2])
        return out

    def render_block(self) -> tuple[np.ndarray, RenderStatus]:
        """The next ``block_size`` × 2 float32 block (clip-free) and what the renderer did."""
        reasons: list[str] = []
        n = self.cfg.block_size
        gains, delays, g, hsrc = self._targets(reasons)
        if len(self.sources):
            block = np.stack([self._ear(0, gains, delays), self._ear(1, gains, delays)], axis=1)
            self._pos = (self._pos + n) % self._bank.lengths
            self._gains, self._delays = gains, delays
        else:
            block = np.zeros((n, 2), dtype=np.float32)
        if not np.all(np.isfinite(block)):
            reasons.append("non_finite_output")
            block = np.zeros((n, 2), dtype=np.float32)
            self._gains[:] = 0.0
        out = self.limiter.process(block.astype(np.float32, copy=False))
        silenced = not np.any(gains > 0)
        return out, RenderStatus(hsrc, silenced, tuple(reasons), int(np.sum(g > 1e-4)), self._boost.copy(),
                                 self.limiter.gain_db)

    def render(self, seconds: float) -> np.ndarray:
        """Render ``seconds`` of audio (whole blocks) as one (n, 2) array."""
        blocks = [self.render_block()[0] for _ in range(int(math.ceil(seconds * self.cfg.sample_rate
                                                                       / self.cfg.block_size)))]
        return np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")

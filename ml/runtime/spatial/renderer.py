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
from .cues import MAX_ITD_S, ear_cues_table
from .geometry import bearing_deg, haversine_m, valid_position, wrap180
from .heading import HeadingReading, resolve_heading
from .limiter import LookaheadLimiter
from .mapping import distance_gain
from .modes import ListeningMode, mode_gains
from .sources import FlatBank, LoopCache, VirtualSource

SAMPLE_RATE = 48_000
_HIGH_BANDS = high_band_of()


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
                         else np.zeros((0, _HIGH_BANDS.size)))
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
        self._boost_target = np.zeros(n)
        self._adapt_countdown = 0
        self._band_shift = np.array([[0], [self._bank.high_offset]], dtype=np.int64)
        self._src_ok = valid_position(self._src_lat, self._src_lng)
        self._geo_key: tuple[float, float] | None = None
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
        dist_gain, bear = self._geometry() if listener_ok else (np.zeros(n), np.full(n, np.nan))
        az = wrap180(bear - heading) if heading is not None else np.full(n, np.nan)
        pointing = self._pointing if self._pointing is not None and math.isfinite(_num(self._pointing)) else heading
        g = dist_gain * mode_gains(self.mode, self._species, self._ids, bear, pointing) * cfg.master_gain
        if heading is None:
            g = g * 10 ** (cfg.no_heading_dim_db / 20)
        g = np.where(np.isfinite(g), g, 0.0)
        cue, delays = ear_cues_table(az, cfg.sample_rate, cfg.cue_mode)
        self._adapt(g, cue, reasons)
        gains = (cue * (g * 10 ** (self._boost / 20))[:, None]).astype(np.float32)
        return gains, delays, g, hsrc

    def _geometry(self) -> tuple[np.ndarray, np.ndarray]:
        """(base × distance gain, bearing°) of each source; recomputed only when the listener moves.

        GPS fixes arrive about once a second while blocks run at ~47 per second, so caching the
        haversine/bearing maths per listener position removes it from almost every block.
        Invalid source positions get zero gain (and a NaN bearing).
        """
        key = (self._lat, self._lng)
        if key != self._geo_key:
            with np.errstate(invalid="ignore"):
                dist = haversine_m(self._lat, self._lng, self._src_lat, self._src_lng)
                bear = bearing_deg(self._lat, self._lng, self._src_lat, self._src_lng)
            gain = self._base * distance_gain(dist, self.cfg.ref_distance_m, self.cfg.max_distance_m)
            self._geo = (np.where(self._src_ok & np.isfinite(gain), gain, 0.0), bear)
            self._geo_key = key
        return self._geo

    def _adapt(self, g: np.ndarray, cue: np.ndarray, reasons: list[str]) -> None:
        acfg = self.cfg.adaptive
        ambient = self.ambient.levels_db if acfg is not None else None
        if self.ambient.last_error:
            reasons.append(self.ambient.last_error)
        step = (acfg.slew_db_per_s if acfg else 12.0) * self.cfg.block_size / self.cfg.sample_rate
        if ambient is None or not np.all(np.isfinite(ambient)):
            self._boost = slew(self._boost, np.zeros_like(self._boost), step)
            self._adapt_countdown = 0
            return
        if self._adapt_countdown <= 0 or self._boost_target.shape != self._boost.shape:
            self._boost_target = self._target_boost(g, cue, ambient, acfg)
            self._adapt_countdown = max(1, round(acfg.update_interval_s * self.cfg.sample_rate
                                                 / self.cfg.block_size))
        self._adapt_countdown -= 1
        self._boost = slew(self._boost, self._boost_target, step)

    def _target_boost(self, g: np.ndarray, cue: np.ndarray, ambient: np.ndarray,
                      acfg: AdaptiveConfig) -> np.ndarray:
        """Each source's boost target from its band levels at the louder ear and the ambience."""
        ear = np.where(_HIGH_BANDS[None, :], np.maximum(cue[:, 2], cue[:, 3])[:, None],
                       np.maximum(cue[:, 0], cue[:, 1])[:, None])
        with np.errstate(divide="ignore"):
            at_ear = self._band_db + 20 * np.log10(g[:, None] * ear)
        target = target_boost_db(np.where(np.isfinite(at_ear), at_ear, -300.0), ambient, acfg)
        return np.where(g > 0, target, self._boost)   # a muted source keeps its boost

    def _mix(self, new_gains: np.ndarray, new_delays: np.ndarray) -> np.ndarray:
        """Both ears of the next block, shape (block_size, 2).

        Per ear, one gather reads each source's low and high band at its new delay (2S rows)
        and, for the sources whose delay changed, at its old delay too; one (2, R) @ (R, N)
        product then mixes them as c0 + c1·t, t ramping over the block. Every gain moves
        linearly from the previous block's value a to the new a + b (no zipper noise): rows
        (a, b). A changed delay cross-fades linearly from the old signal at gain a to the new one
        at gain a + b: new rows (0, a + b), old rows (a, −a), whose sum on a steady signal is the
        same a + b·t ramp.
        """
        t = self._ramp
        start = self._bank.starts + self._pos
        out = np.empty((self.cfg.block_size, 2), dtype=np.float32)
        for ear in (0, 1):
            cols = [ear, 2 + ear]                                   # low, high band gains
            a = self._gains[:, cols].T.ravel()
            end = new_gains[:, cols].T.ravel()
            rows = ((start - new_delays[:, ear])[None, :] + self._band_shift).ravel()
            moved = np.tile(new_delays[:, ear] != self._delays[:, ear], 2)
            if moved.any():
                old = ((start - self._delays[:, ear])[None, :] + self._band_shift).ravel()[moved]
                am = a[moved]
                coef = np.concatenate([np.stack([np.where(moved, 0.0, a), np.where(moved, end, end - a)]),
                                       np.stack([am, -am])], axis=1).astype(np.float32)
                rows = np.concatenate([rows, old])
            else:
                coef = np.stack([a, end - a])
            m = coef @ self._bank.window[rows]
            out[:, ear] = m[0] + t * m[1]
        return out

    def render_block(self) -> tuple[np.ndarray, RenderStatus]:
        """The next ``block_size`` × 2 float32 block (clip-free) and what the renderer did."""
        reasons: list[str] = []
        n = self.cfg.block_size
        gains, delays, g, hsrc = self._targets(reasons)
        if len(self.sources):
            block = self._mix(gains, delays)
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

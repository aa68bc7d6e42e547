"""Soundscape player logic: fetch the area's specification, cache clips (sha256-checked), place
virtual sources, follow GPS and heading, and render with :mod:`ml.runtime.spatial` in 20 ms blocks.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ml.runtime.files import atomic_write
from ml.runtime.spatial import HeadingReading, ListeningMode, Mode, RenderConfig, SpatialRenderer, VirtualSource

from .api import ApiClient, ApiError
from .pcm import PcmError, decode_audio, is_wav, read_audio_file
from .services.base import ServiceUnavailable
from .streaming import StreamPlayer

BLOCK_S = 0.02
SAMPLE_RATE = 48_000
MODES = {"Constant": Mode.CONSTANT, "Focused": Mode.FOCUSED, "Interactive": Mode.INTERACTIVE}


@dataclass
class PlayerStats:
    blocks: int = 0
    underruns: int = 0  # blocks that took longer to render than they last (the ring's underruns: player.stats)
    worst_ms: float = 0.0
    times_ms: list[float] = field(default_factory=list)


def decode_clip(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32, rate) of a clip: WAV (what phones ask for) with the standard library."""
    return decode_audio(data)


class SoundscapeController:
    def __init__(self, api: ApiClient, location, compass, cache_dir: str | Path, block_s: float = BLOCK_S):
        self.api, self.location, self.compass = api, location, compass
        self.cache = Path(cache_dir)
        self.cache.mkdir(parents=True, exist_ok=True)
        self.renderer = SpatialRenderer(RenderConfig(block_size=int(round(block_s * SAMPLE_RATE))))
        self.mode = ListeningMode()
        self.mix = 1.0  # scene volume relative to the calibrated level
        self.cells: list[dict] = []
        self._decoded: dict[str, tuple[np.ndarray, int]] = {}
        self.stats = PlayerStats()
        self.status = ""
        self.player: StreamPlayer | None = None

    # --- scene ----------------------------------------------------------------------------
    def species(self) -> list[str]:
        return sorted({s.species for s in self.renderer.sources})

    def fetch(self, radius_m: float = 500.0) -> int:
        """Download the specification around the player and the clips it names; returns #sources."""
        try:
            fix = self.location.current()
        except ServiceUnavailable as exc:
            self.status = exc.message
            raise
        data = self.api.get_json("/api/v1/soundscapes/", params={"lat": f"{fix.lat:.6f}", "lng": f"{fix.lng:.6f}",
                                                                  "radius": int(radius_m)})
        cells = data.get("cells", []) if isinstance(data, dict) else []
        sources = sources_from_spec(cells, self.clip)
        self.cells = cells
        self.set_sources(sources)
        self.status = f"{len(sources)} sounds around you" if sources else "No sounds recorded around you yet."
        return len(sources)

    def set_sources(self, sources: list[VirtualSource]) -> None:
        self.renderer.set_sources(sources)

    def clip(self, clip: dict) -> tuple[np.ndarray, int]:
        """A clip from the memory or disk cache, or downloaded and checked against its sha256."""
        sha = str(clip.get("sha256", "")).lower()
        if sha in self._decoded:
            return self._decoded[sha]
        self._decoded[sha] = self._load_clip(clip, sha)
        return self._decoded[sha]

    def _load_clip(self, clip: dict, sha: str) -> tuple[np.ndarray, int]:
        path = self.cache / f"{sha}.audio"
        if len(sha) == 64 and path.exists():
            return decode_clip(path.read_bytes())
        response = self.api.request("GET", clip["url"], params={"format": "wav"})
        data = response.content
        # a WAV rendition names the clip it was decoded from; an original must match its hash
        source = response.headers.get("X-Clip-SHA256", "") if is_wav(data) else hashlib.sha256(data).hexdigest()
        if source.lower() != sha:
            raise ValueError("clip checksum mismatch")
        atomic_write(path, data)
        return decode_clip(data)

    # --- controls -------------------------------------------------------------------------
    def set_mode(self, name: str) -> None:
        self.mode = replace(self.mode, mode=MODES.get(name, Mode.CONSTANT))
        self.renderer.set_mode(self.mode)

    def isolate(self, species: str | None) -> None:
        self.mode = replace(self.mode, isolate_species=species or None)
        self.renderer.set_mode(self.mode)

    def activate(self, active: bool = True) -> None:
        self.mode = replace(self.mode, active=active)
        self.renderer.set_mode(self.mode)

    def update_listener(self) -> None:
        try:
            fix = self.location.current()
        except ServiceUnavailable as exc:
            self.status = exc.message
            self.renderer.set_listener(float("nan"), float("nan"))
            return
        try:
            heading = self.compass.heading_deg()
            tilt = self.compass.tilt_deg()
        except ServiceUnavailable:
            heading, tilt = None, None
        if self.mode.mode == Mode.INTERACTIVE and tilt is not None and tilt > 35.0 and not self.mode.active:
            self.activate(True)
        self.renderer.set_listener(fix.lat, fix.lng, HeadingReading(compass_deg=heading), pointing_deg=heading)

    def next_block(self) -> np.ndarray:
        t0 = time.perf_counter()
        self.update_listener()
        block, _status = self.renderer.render_block()
        elapsed = (time.perf_counter() - t0) * 1000.0
        st = self.stats
        st.blocks += 1
        st.times_ms.append(elapsed)
        st.worst_ms = max(st.worst_ms, elapsed)
        if elapsed > self.renderer.cfg.block_size / self.renderer.cfg.sample_rate * 1000.0:
            st.underruns += 1
        return block * np.float32(self.mix)

    # --- playback -------------------------------------------------------------------------
    def play(self, audio_out, ahead_blocks: int = 6) -> StreamPlayer:
        """Stream 20 ms blocks through a small ring buffer into ``audio_out`` (gapless)."""
        self.stop()
        cfg = self.renderer.cfg
        self.player = StreamPlayer(self.next_block, cfg.sample_rate, cfg.block_size, 2, ahead_blocks)
        self.player.start(audio_out)
        return self.player

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()

    @property
    def playing(self) -> bool:
        return self.player is not None and self.player.running


def sources_from_spec(cells: list, clip_loader) -> list[VirtualSource]:
    """Virtual sources of the server's cells (``{cell, sources:[{id, lat, lng, species, count, clip:{id, url,
    sha256}|null, gain, rate}]}``); sources without a clip, or whose clip is bad, are left out."""
    out: list[VirtualSource] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        for i, s in enumerate(cell.get("sources") or []):
            if not isinstance(s, dict) or not isinstance(s.get("clip"), dict):
                continue
            try:
                samples, sr = clip_loader(s["clip"])
                out.append(VirtualSource(id=f"{cell.get('cell')}:{s.get('id', i)}", lat=float(s["lat"]),
                                         lng=float(s["lng"]), species=str(s["species"]), samples=samples,
                                         sample_rate=int(sr), count=max(1, int(s.get("count", 1))),
                                         gain=float(s.get("gain", 1.0)),
                                         rate=float(s["rate"]) if s.get("rate") is not None else None))
            except (KeyError, TypeError, ValueError, ApiError, RuntimeError, PcmError):
                continue  # one bad source never spoils the scene
    return out


def source_from_file(path: str | Path, sid: str, lat: float, lng: float, species: str, count: int = 1) -> VirtualSource:
    """A virtual source from a local file (demo scenes, tests, benchmarks)."""
    x, sr = read_audio_file(path)
    return VirtualSource(id=sid, lat=lat, lng=lng, species=species, samples=x, sample_rate=int(sr),
                         count=count)



"""Soundscape player logic: fetch the area's specification, cache clips (sha256-checked), place
virtual sources, follow GPS and heading, and render with :mod:`ml.runtime.spatial` in 20 ms blocks.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ml.runtime.files import atomic_write
from ml.runtime.spatial import HeadingReading, ListeningMode, Mode, RenderConfig, SpatialRenderer, VirtualSource
from ml.runtime.spatial.heading import CourseTracker
from ml.runtime.spatial.modes import TILT_ACTIVATE_DEG

from .api import ApiClient, ApiError
from .heading import Pointing, choose_pointing
from .pcm import PcmError, decode_audio, is_wav, read_audio_file
from .services.base import ServiceUnavailable
from .streaming import StreamPlayer

BLOCK_S = 0.02
SAMPLE_RATE = 48_000
TILT_LOWER_DEG = 20.0   # interactive mode sleeps again once the phone is lowered below this
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
        self.course = CourseTracker()
        self.pointing = Pointing(None, "none")
        self._raised: bool | None = None   # interactive mode: the phone's last raised/lowered state
        self._declination_set = False
        self._ambient: deque[tuple[np.ndarray, int]] = deque(maxlen=50)   # 1 s of 20 ms microphone blocks
        self._ambient_mic = None

    # --- scene ----------------------------------------------------------------------------
    def species(self) -> list[str]:
        return sorted({s.species for s in self.renderer.sources})

    def fetch(self, radius_m: float = 500.0, day: str | None = None) -> int:
        """Download the specification around the player and the clips it names; returns #sources.
        ``day`` (``YYYY-MM-DD``, UTC) recalls that day's soundscape instead of the last 24 hours."""
        try:
            fix = self.location.current()
        except ServiceUnavailable as exc:
            self.status = exc.message
            raise
        params = {"lat": f"{fix.lat:.6f}", "lng": f"{fix.lng:.6f}", "radius": int(radius_m)}
        if day:
            params["date"] = day
        data = self.api.get_json("/api/v1/soundscapes/", params=params)
        cells = data.get("cells", []) if isinstance(data, dict) else []
        sources = sources_from_spec(cells, self.clip)
        self.cells = cells
        self.set_sources(sources)
        self.status = f"{len(sources)} sounds around you" if sources else "No sounds recorded around you yet."
        return len(sources)

    def mix_audio(self, day: str | None = None) -> tuple[np.ndarray, int]:
        """The artistic mix of the busiest fetched cell that has one for ``day`` (default today), decoded.
        Raises ``ApiError("mix_not_found")`` when none of the cells around has a mix that day."""
        cells = sorted(self.cells, key=lambda c: -len(c.get("sources") or []))
        for cell in cells[:3]:
            params = {"audio": "wav", **({"date": day} if day else {})}
            try:
                data = self.api.request("GET", f"/api/v1/soundscapes/cells/{cell['cell']}/mix/", params=params).content
            except ApiError as exc:
                if exc.status != 404:
                    raise
                continue
            return decode_clip(data)
        raise ApiError("mix_not_found", "There is no artistic mix of this place for that day yet.", 404)

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
        response = self.api.request("GET", clip["url"], params={"audio": "wav"})
        data = response.content
        # a WAV rendition names the clip it was decoded from; an original must match its hash
        source = response.headers.get("X-Clip-SHA256", "") if is_wav(data) else hashlib.sha256(data).hexdigest()
        if source.lower() != sha:
            raise ValueError("clip checksum mismatch")
        atomic_write(path, data)
        return decode_clip(data)

    # --- controls -------------------------------------------------------------------------
    def set_mode(self, name: str) -> None:
        self.mode = replace(self.mode, mode=MODES.get(name, Mode.CONSTANT), active=False)
        self._raised = None
        self._apply_mode()

    def isolate(self, species: str | None) -> None:
        self.mode = replace(self.mode, isolate_species=species or None)
        self._apply_mode()

    def activate(self, active: bool = True) -> None:
        """Interactive mode: wake the scene (a button, or raising the phone) or let it sleep again."""
        self.mode = replace(self.mode, active=bool(active))
        self._apply_mode()

    def _apply_mode(self) -> None:
        """The renderer's mode: focused listening with nothing to point by plays every direction."""
        effective = self.mode
        if effective.mode == Mode.FOCUSED and self.pointing.heading_deg is None:
            effective = replace(effective, mode=Mode.CONSTANT)
        self.renderer.set_mode(effective)

    # --- the adaptive mix's ear: the headset microphone -----------------------------------
    def start_ambient(self, microphone, headset_has_mic: bool) -> bool:
        """Feed the headset microphone's level to the adaptive mix (it keeps each source audible above
        the surroundings). Returns False, with ``status`` saying why, without a headset microphone."""
        self.stop_ambient()
        if not headset_has_mic:
            self.status = "Your headphones have no microphone, so the mix keeps its own level."
            return False
        try:
            rate = int(getattr(microphone, "sample_rate", SAMPLE_RATE))
            microphone.start(lambda block: self._ambient.append((np.asarray(block, dtype=np.float32), rate)))
        except ServiceUnavailable as exc:
            self.status = exc.message
            return False
        self._ambient_mic = microphone
        return True

    def stop_ambient(self) -> None:
        if self._ambient_mic is not None:
            self._ambient_mic.stop()
            self._ambient_mic = None
        self._ambient.clear()

    @property
    def hearing_surroundings(self) -> bool:
        return self._ambient_mic is not None

    def _drain_ambient(self) -> None:
        while self._ambient:
            block, rate = self._ambient.popleft()
            self.renderer.feed_ambient(block, rate)

    # --- where the listener is and faces --------------------------------------------------
    def update_listener(self) -> None:
        try:
            fix = self.location.current()
        except ServiceUnavailable as exc:
            self.status = exc.message
            self.renderer.set_listener(float("nan"), float("nan"))
            return
        self.course.update(fix.lat, fix.lng, fix.timestamp)
        course = fix.course_deg if fix.course_deg is not None else self.course.course_deg
        speed = fix.speed_mps if fix.speed_mps is not None else self.course.speed_mps
        if not self._declination_set and hasattr(self.compass, "set_position"):
            self.compass.set_position(fix.lat, fix.lng)
            self._declination_set = True
        problem = ""
        try:
            heading: float | None = self.compass.heading_deg()
        except ServiceUnavailable as exc:
            heading, problem = None, exc.message
        try:
            tilt = self.compass.tilt_deg()
        except ServiceUnavailable:
            tilt = None
        before = self.pointing
        self.pointing = choose_pointing(heading, problem, course, speed)
        if (before.source, before.note) != (self.pointing.source, self.pointing.note):
            if self.pointing.note:
                self.status = self.pointing.note
            self._apply_mode()
        if self.mode.mode == Mode.INTERACTIVE:
            self._follow_tilt(tilt)
        self.renderer.set_listener(fix.lat, fix.lng, HeadingReading(course_deg=course, speed_mps=speed,
                                                                    compass_deg=heading),
                                   pointing_deg=self.pointing.heading_deg)

    def _follow_tilt(self, tilt: float | None) -> None:
        """Interactive mode: raising the phone wakes the scene, lowering it puts it to sleep; only
        changes count, so a button's choice holds until the phone next moves."""
        raised = raised_state(self._raised, tilt)
        if raised is not None and raised != self._raised:
            if self._raised is not None or raised:
                self.activate(raised)
            self._raised = raised

    def next_block(self) -> np.ndarray:
        t0 = time.perf_counter()
        self.update_listener()
        self._drain_ambient()
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


def raised_state(before: bool | None, tilt_deg: float | None, raise_deg: float = TILT_ACTIVATE_DEG,
                 lower_deg: float = TILT_LOWER_DEG) -> bool | None:
    """Whether the phone is raised, with hysteresis: raised at ``raise_deg`` or more, lowered below
    ``lower_deg``, unchanged in between; None without a tilt reading and no earlier state."""
    if tilt_deg is None or not math.isfinite(tilt_deg):
        return before
    if abs(tilt_deg) >= raise_deg:
        return True
    if abs(tilt_deg) < lower_deg:
        return False
    return before


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



"""Render a binaural WAV of a walk through the observations on the map (e.g. the demo ones).

    python manage.py load_demo            # once: the 470 xeno-canto observations
    python manage.py render_walk --out var/soundscape-walk.wav

The walk is a path of GPS points (``--path "lat,lng;lat,lng;..."``; by default a 300 m
east–west walk through the busiest cell), walked at ``--speed`` m/s; the heading is the course
of travel. Sources come from the same spec builder as the API (public, i.e. obscured, positions
for sensitive species; counts, gains and rates), over all dates. Each species' clip is, in
order: a player's recording in the area; the observation's own xeno-canto recording when the
shared data set (../shared/data/birds-pr/audio) is present; the species' fixture clip
(fixtures/audio). Species with none of these stay silent and are listed — no synthetic tones.
"""
from __future__ import annotations

import io
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ml.runtime.audio import AudioError, decode
from ml.runtime.spatial import RenderConfig, SpatialRenderer, VirtualSource
from ml.runtime.spatial.geometry import bearing_deg, destination, haversine_m
from ml.runtime.spatial.heading import CourseTracker, HeadingReading
from server.observations import services as observations
from server.soundscapes.cells import cell_bbox, cells_within, valid_coordinates
from server.platform import storage as files
from server.soundscapes.clips import fixture_clip, recording_clip
from server.soundscapes.queries import grouped_by_cell
from server.soundscapes.specbuild import cell_spec
from server.soundscapes.windows import Window

SHARED_AUDIO = Path(settings.BASE_DIR).parent / "shared" / "data" / "birds-pr" / "audio"
SR = 48_000


def parse_path(raw: str) -> list[tuple[float, float]]:
    points = []
    for part in raw.split(";"):
        try:
            lat, lng = (float(v) for v in part.split(","))
        except ValueError:
            raise CommandError(f"bad path point {part!r}; use 'lat,lng;lat,lng;...'") from None
        if not valid_coordinates(lat, lng):
            raise CommandError(f"impossible coordinates {part!r}")
        points.append((lat, lng))
    if len(points) < 2:
        raise CommandError("a path needs at least two points")
    return points


def position_at(path: list[tuple[float, float]], legs: np.ndarray, s: float) -> tuple[float, float]:
    """The point ``s`` metres along the path."""
    for (a, b), length in zip(zip(path, path[1:]), legs):
        if s <= length or length == legs[-1]:
            return destination(a[0], a[1], float(bearing_deg(a[0], a[1], b[0], b[1])), min(s, length))
        s -= length
    return path[-1]


class Command(BaseCommand):
    help = "Render a binaural WAV of a walk through the observations (headphones)."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=Path("var/soundscape-walk.wav"))
        parser.add_argument("--path", type=str, default=None, help="lat,lng;lat,lng;... (default: busiest cell)")
        parser.add_argument("--speed", type=float, default=1.4, help="walking speed, m/s")
        parser.add_argument("--max-seconds", type=float, default=240.0)
        parser.add_argument("--radius", type=float, default=400.0, help="hearing radius, m")

    def handle(self, *args, out: Path, path: str | None, speed: float, max_seconds: float, radius: float,
               **options):
        window = Window("all", datetime(1900, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc))
        points = parse_path(path) if path else self.busiest_walk(window)
        legs = np.array([float(haversine_m(*a, *b)) for a, b in zip(points, points[1:])])
        seconds = min(legs.sum() / max(speed, 0.1), max_seconds)
        sources, silent = self.sources_near(points, radius, window)
        if not sources:
            raise CommandError("no audible observations near the path (did you run load_demo?)")
        renderer = SpatialRenderer(RenderConfig(max_distance_m=radius, ref_distance_m=10.0))
        renderer.set_sources(sources)
        course = CourseTracker()
        blocks = []
        n_blocks = int(math.ceil(seconds * SR / renderer.cfg.block_size))
        for k in range(n_blocks):
            t = k * renderer.cfg.block_size / SR
            lat, lng = position_at(points, legs, t * speed)
            course.update(lat, lng, t)
            renderer.set_listener(lat, lng, HeadingReading(course_deg=course.course_deg, speed_mps=course.speed_mps))
            blocks.append(renderer.render_block()[0])
        audio = np.concatenate(blocks)
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, audio, SR, subtype="PCM_16")
        self.stdout.write(f"walk of {legs.sum():.0f} m from {points[0]} to {points[-1]} at {speed} m/s")
        self.stdout.write(f"{len(sources)} sources ({len({s.species for s in sources})} species) within "
                          f"{radius:.0f} m; silent (no clip): {', '.join(sorted(silent)) or 'none'}")
        self.stdout.write(f"wrote {out} ({audio.shape[0] / SR:.1f} s, stereo 48 kHz, peak "
                          f"{np.max(np.abs(audio)):.2f}) — listen with headphones")

    def busiest_walk(self, window: Window) -> list[tuple[float, float]]:
        with transaction.atomic():
            cells = grouped_by_cell(window)
        if not cells:
            raise CommandError("no observations (run: python manage.py load_demo)")
        cell, entry = max(cells.items(), key=lambda kv: (kv[1].n_observations, kv[0]))
        lat = sum(g.lat * g.count for g in entry.groups) / sum(g.count for g in entry.groups)
        lng = sum(g.lng * g.count for g in entry.groups) / sum(g.count for g in entry.groups)
        return [destination(lat, lng, 270.0, 150.0), destination(lat, lng, 90.0, 150.0)]

    def sources_near(self, points, radius: float, window: Window) -> tuple[list[VirtualSource], set[str]]:
        legs = np.array([float(haversine_m(*a, *b)) for a, b in zip(points, points[1:])])
        cells: set[str] = set()
        for s in np.arange(0.0, legs.sum() + 250.0, 250.0):
            cells.update(cells_within(*position_at(points, legs, float(s)), min(radius, 2000.0)))
        boxes = [cell_bbox(c) for c in cells]
        bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        with transaction.atomic():
            found = grouped_by_cell(window, bbox)
        audio_cache: dict[str, tuple[np.ndarray, int] | None] = {}
        sources, silent = [], set()
        for cell, entry in found.items():
            spec = cell_spec(cell, window.name, entry.groups, lambda sp, rec: {"species": sp, "recording": rec})
            for src in spec["sources"]:
                key = src["species"]
                if key not in audio_cache:
                    audio_cache[key] = self.clip_audio(src["species"], src["clip"]["recording"], bbox)
                if audio_cache[key] is None:
                    silent.add(key)
                    continue
                x, sr = audio_cache[key]
                sources.append(VirtualSource(f"{cell}:{src['id']}", src["lat"], src["lng"], key, x, sr,
                                             count=src["count"], gain=src["gain"], rate=src["rate"]))
        return sources, silent

    def clip_audio(self, species: str, recording_id: str | None, bbox) -> tuple[np.ndarray, int] | None:
        """A player's recording, else the observation's own xeno-canto audio, else the fixture clip."""
        if recording_id:
            clip = recording_clip(recording_id, species)
            if clip is not None:
                return decode(files.read(clip.path))
        if SHARED_AUDIO.is_dir():
            from django.contrib.gis.geos import Polygon

            area = Polygon.from_bbox((bbox[1], bbox[0], bbox[3], bbox[2]))
            for xc_id in observations.xeno_canto_ids(species, within=area):
                f = SHARED_AUDIO / f"XC{xc_id}.ogg"
                if f.exists():
                    try:
                        x, sr = decode(f.read_bytes(), max_seconds=600)
                        return x[: 20 * sr], sr
                    except AudioError:
                        continue
        clip = fixture_clip(species)
        if clip is not None:
            x, sr = sf.read(io.BytesIO(files.read(clip.path)), dtype="float32", always_2d=True)
            return x.mean(axis=1), int(sr)
        return None

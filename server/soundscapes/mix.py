"""Artistic mixes of busy cells (stage 4): the cell's clips, reverberated, staggered and
normalised to −16 LUFS, stored as Ogg/Opus per cell and UTC day in the file store (``soundscapes/mixes/``)."""
from __future__ import annotations

import hashlib
import logging
from datetime import date

from django.utils import timezone

from ml.runtime.audio import AudioError, decode, encode_ogg_opus
from ml.runtime.spatial.artistic import MixConfig, render_artistic_mix
from server.platform import storage as files

from .models import CellMix, CellSpec, Clip
from .services import build_window
from .windows import day_window

log = logging.getLogger(__name__)
MIX_MIN_CLIPS = 6       # a cell is "busy" from this many distinct clips on a day
MIX_MAX_CLIPS = 24


def cell_clips(spec: dict) -> list[int]:
    """Distinct clip ids of a spec, most-found sources first."""
    seen: list[int] = []
    for src in spec.get("sources", []):
        clip = src.get("clip")
        if clip and clip["id"] not in seen:
            seen.append(clip["id"])
    return seen[:MIX_MAX_CLIPS]


def render_cell_mix(cell: str, day: date, clip_ids: list[int], cfg: MixConfig | None = None) -> CellMix | None:
    """Render and store the mix of ``clip_ids`` (skipped when the same clips were mixed already)."""
    clip_set = hashlib.sha256(",".join(map(str, clip_ids)).encode()).hexdigest()
    existing = CellMix.objects.filter(cell=cell, day=day).first()
    if existing is not None and existing.clip_set == clip_set:
        return existing
    clips = {c.pk: c for c in Clip.objects.filter(pk__in=clip_ids)}
    audio = []
    for cid in clip_ids:
        try:
            audio.append(decode(files.read(clips[cid].path)))
        except (KeyError, OSError, ValueError, AudioError) as exc:
            log.warning("mix %s %s: clip %s skipped: %s", cell, day, cid, exc)
    if len(audio) < 2:
        return None
    result = render_artistic_mix(audio, cfg, seed=int(clip_set[:8], 16))
    data = encode_ogg_opus(result.audio, 48_000)
    sha = hashlib.sha256(data).hexdigest()
    rel = f"soundscapes/mixes/{sha[:2]}/{sha}.ogg"
    files.put(rel, data)
    mix, _ = CellMix.objects.update_or_create(cell=cell, day=day, defaults={
        "sha256": sha, "path": rel, "clip_set": clip_set, "n_clips": len(audio),
        "duration_s": result.audio.shape[0] / 48_000, "loudness_lufs": round(result.loudness_lufs, 2),
        "built_at": timezone.now()})
    return mix


def render_day_mixes(day: date, min_clips: int = MIX_MIN_CLIPS, cfg: MixConfig | None = None) -> int:
    """Build the day's specs, then mix every cell with at least ``min_clips`` clips."""
    window = day_window(day)
    build_window(window)
    done = 0
    for row in CellSpec.objects.filter(window=window.name).only("cell", "spec"):
        ids = cell_clips(row.spec)
        if len(ids) >= min_clips and render_cell_mix(row.cell, day, ids, cfg) is not None:
            done += 1
    return done

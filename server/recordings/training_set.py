"""The training set: research-grade and reviewer-labelled recordings as a manifest plus tag-free audio.

Layout of the folder written (DESIGN §6's manifest contract, read by ``python -m ml train|cv|evaluate``)::

    OUT/manifest.csv                 one row per recording, columns MANIFEST_COLUMNS
    OUT/audio/<recording id>.flac    the recording's marked segment

* ``file`` is relative to the manifest; ``label`` is the observation's species label; the other
  columns are metadata: ``recordist``, ``licence``, ``lat``/``lng`` (the **true** position, also of
  sensitive species: the set is for researchers and admins, never for publication), ``date`` (UTC,
  ISO), ``grade`` (``reviewed``: a reviewer's label set the species; ``research``: research grade from
  the community), ``kind`` (bird or urban), ``recording_id`` (groups cuts of one recording) and
  ``observation_id``.
* Audio: the marked segment of the stored file (the speech-muted copy where speech was muted),
  decoded and written as FLAC from the samples (``ml.runtime.audio.encode_flac``), so none of the
  upload's container tags can reach it. A file that cannot be read is reported and skipped.
* Selection: observations with a recording; ``research`` = research grade without a review,
  ``reviewed`` = a reviewer labelled it (direct or propagated) and data-quality votes did not make it
  casual. Ordered by observation id.
* All or nothing: everything is written into a hidden folder beside ``OUT`` and renamed to ``OUT`` at
  the end; a refusal (:class:`TrainingSetError`) or a crash leaves no ``OUT`` behind.
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

from django.conf import settings

from ml.runtime.audio import AudioError, decode, encode_flac
from ml.runtime.reencode import clip_span
from server.observations.public_clips import effective_licence
from server.observations.services import training_observations

from . import storage

GRADES = ("research", "reviewed")
KINDS = ("bird", "urban")
MANIFEST_NAME = "manifest.csv"
AUDIO_DIR = "audio"
MANIFEST_COLUMNS = ["file", "label", "recordist", "licence", "lat", "lng", "date", "grade", "kind",
                    "recording_id", "observation_id"]


class TrainingSetError(ValueError):
    """A request that cannot be exported; nothing was written. The message says why."""


@dataclass
class TrainingSet:
    """What was written: the manifest's path, its row count and the skipped recordings (with reasons)."""

    manifest: Path
    rows: int
    labels: list[str]
    skipped: list[str] = field(default_factory=list)


def check_request(grades: list[str], kind: str | None) -> tuple[str, ...]:
    """The grades asked for (default: both); raises :class:`TrainingSetError` for an unknown grade or kind."""
    unknown = sorted(set(grades) - set(GRADES))
    if unknown:
        raise TrainingSetError(f"Unknown grade {', '.join(map(repr, unknown))}; choose from {', '.join(GRADES)}.")
    if kind is not None and kind not in KINDS:
        raise TrainingSetError(f"Unknown kind {kind!r}; choose from {', '.join(KINDS)}.")
    return tuple(dict.fromkeys(grades)) or GRADES


def selection(grades: tuple[str, ...], kind: str | None):
    """The observations of the training set, oldest id first (``observations.services.training_observations``)."""
    return training_observations(research="research" in grades, reviewed="reviewed" in grades, kind=kind)


def segment_flac(rec) -> bytes:
    """The recording's marked segment as FLAC made from its samples (no container tags of the upload)."""
    samples, sr = decode(storage.read_blob(rec.audio_path), max_bytes=settings.MAX_UPLOAD_BYTES,
                         max_seconds=settings.MAX_AUDIO_SECONDS)
    lo, hi = clip_span(samples.shape[0], sr, rec.segment_start_s, rec.segment_end_s,
                       max_seconds=settings.MAX_AUDIO_SECONDS)
    return encode_flac(samples[lo:hi], sr)


def manifest_row(obs, file: str) -> dict:
    rec = obs.recording
    return {"file": file, "label": obs.species.label, "recordist": obs.recordist, "licence": effective_licence(obs),
            "lat": f"{obs.location.y:.6f}", "lng": f"{obs.location.x:.6f}",
            "date": obs.observed_at.astimezone(timezone.utc).date().isoformat(),
            "grade": "reviewed" if obs.reviewed_at is not None else "research", "kind": obs.species.kind,
            "recording_id": str(rec.pk), "observation_id": str(obs.pk)}


def target_folder(out: Path) -> Path:
    """``out`` as an absolute path that may be created: missing, or an empty folder."""
    out = Path(out).resolve()
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise TrainingSetError(f"{out} exists and is not an empty folder; choose another --out.")
    if not out.parent.is_dir():
        raise TrainingSetError(f"The folder {out.parent} does not exist.")
    return out


def export_training_set(out: Path, grades: list[str], kind: str | None = None) -> TrainingSet:
    """Write the training set into ``out`` (see the module docstring); raises :class:`TrainingSetError`
    for an unknown grade or kind, an ``out`` that is in the way, or an empty selection, writing nothing."""
    wanted = check_request(grades, kind)
    out = target_folder(out)
    observations = list(selection(wanted, kind))
    if not observations:
        raise TrainingSetError(f"No recordings are {' or '.join(wanted)}"
                               f"{f' of kind {kind}' if kind else ''}; nothing was written.")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / AUDIO_DIR).mkdir()
        rows, skipped = [], []
        for obs in observations:
            file = f"{AUDIO_DIR}/{obs.recording_id}.flac"
            try:
                (staging / file).write_bytes(segment_flac(obs.recording))
            except (OSError, AudioError) as exc:
                skipped.append(f"recording {obs.recording_id}: {getattr(exc, 'message', exc)}")
                continue
            rows.append(manifest_row(obs, file))
        if not rows:
            raise TrainingSetError("None of the selected recordings could be read; nothing was written.\n"
                                   + "\n".join(skipped))
        with open(staging / MANIFEST_NAME, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        if out.exists():
            out.rmdir()   # empty (target_folder checked)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TrainingSet(out / MANIFEST_NAME, len(rows), sorted({r["label"] for r in rows}), skipped)

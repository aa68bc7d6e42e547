"""The orphan sweeper: delete audio files under ``MEDIA_ROOT/audio/`` that no recording references.

Uploads write their file in the transaction that inserts their row, and remove it when that
transaction fails (``ingest.insert_and_store``); what a crash or a failed commit still leaves
behind is found here. ``audio/`` holds recordings' files only (``storage.relative_path``); other
media (public clips, models) live in other folders and are never touched.

Invariants: a file a committed recording references is never deleted (each deletion re-checks
under the file's lock, ``blob_refs``); a file younger than the grace period is never deleted, so
an upload still in flight keeps its file; an abandoned temporary file of ``atomic_write``
(``.<name>.<random>.part``) older than the grace period is deleted too.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from . import blob_refs, storage

log = logging.getLogger(__name__)
AUDIO_DIR = "audio"
BATCH = 500   # paths per reference query


@dataclass(frozen=True)
class SweepResult:
    scanned: int   # files older than the grace period
    deleted: int   # unreferenced files and abandoned temporary files removed


def old_files(root: Path, older_than: float) -> Iterator[Path]:
    """Files under ``root`` last modified before the epoch time ``older_than``."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                if path.stat().st_mtime < older_than:
                    yield path
            except FileNotFoundError:   # removed meanwhile
                continue


def _delete_if_orphan(rel: str, older_than: float) -> bool:
    """Delete ``rel`` if, under its lock, no recording references it and it is still old; skip it when
    a writer holds the lock (the next sweep looks again)."""
    with transaction.atomic():
        if not blob_refs.try_lock(rel) or blob_refs.referenced([rel]):
            return False
        path = storage.absolute(rel)
        try:
            if path.stat().st_mtime >= older_than:
                return False
        except FileNotFoundError:
            return False
        storage.delete_blob(rel)
        return True


def sweep(grace_s: float, now: float | None = None) -> SweepResult:
    """Delete every unreferenced file under ``audio/`` older than ``grace_s`` seconds (see the module's invariants)."""
    root = storage.absolute(AUDIO_DIR)
    if not root.is_dir():
        return SweepResult(0, 0)
    media = Path(settings.MEDIA_ROOT).resolve()
    older_than = (time.time() if now is None else now) - grace_s
    scanned = deleted = 0
    batch: list[str] = []

    def flush() -> int:
        unreferenced = set(batch) - blob_refs.referenced(batch)
        batch.clear()
        return sum(_delete_if_orphan(rel, older_than) for rel in sorted(unreferenced))

    for path in old_files(root, older_than):
        scanned += 1
        if path.name.startswith(".") and path.name.endswith(".part"):   # abandoned atomic_write
            path.unlink(missing_ok=True)
            deleted += 1
            continue
        batch.append(path.resolve().relative_to(media).as_posix())
        if len(batch) >= BATCH:
            deleted += flush()
    if batch:
        deleted += flush()
    if deleted:
        log.info("orphan sweeper: %d of %d old files under %s/ deleted", deleted, scanned, AUDIO_DIR)
    return SweepResult(scanned, deleted)

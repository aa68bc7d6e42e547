"""The orphan sweeper: delete stored audio under ``audio/`` that no recording references.

Uploads write their file in the transaction that inserts their row, and remove it when that
transaction fails (``ingest.insert_and_store``); what a crash or a failed commit still leaves
behind is found here. ``audio/`` holds recordings' files only (``storage.relative_path``); other
files (public clips, models) live under other prefixes and are never touched. The sweeper lists
and deletes through the storage API (:mod:`server.platform.storage`), so it works on the
filesystem and on S3 alike.

Invariants: a file a committed recording references is never deleted (each deletion re-checks
under the file's lock, ``blob_refs``); a file younger than the grace period is never deleted, so
an upload still in flight keeps its file; an abandoned temporary file of a filesystem write
(``.<name>.<random>.part``) older than the grace period is deleted too.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction

from server.platform import storage as files

from . import blob_refs, storage

log = logging.getLogger(__name__)
AUDIO_DIR = storage.AUDIO_DIR
BATCH = 500   # names per reference query


@dataclass(frozen=True)
class SweepResult:
    scanned: int   # files older than the grace period
    deleted: int   # unreferenced files and abandoned temporary files removed


def old_files(prefix: str, older_than: float) -> Iterator[str]:
    """Stored names under ``prefix`` last written before the epoch time ``older_than``."""
    for name in files.walk(prefix):
        try:
            if files.modified_at(name) < older_than:
                yield name
        except FileNotFoundError:   # removed meanwhile
            continue


def _delete_if_orphan(rel: str, older_than: float) -> bool:
    """Delete ``rel`` if, under its lock, no recording references it and it is still old; skip it when
    a writer holds the lock (the next sweep looks again)."""
    with transaction.atomic():
        if not blob_refs.try_lock(rel) or blob_refs.referenced([rel]):
            return False
        try:
            if files.modified_at(rel) >= older_than:
                return False
        except FileNotFoundError:
            return False
        storage.delete_blob(rel)
        return True


def sweep(grace_s: float, now: float | None = None) -> SweepResult:
    """Delete every unreferenced file under ``audio/`` older than ``grace_s`` seconds (see the module's invariants)."""
    older_than = (time.time() if now is None else now) - grace_s
    scanned = deleted = 0
    batch: list[str] = []

    def flush() -> int:
        unreferenced = set(batch) - blob_refs.referenced(batch)
        batch.clear()
        return sum(_delete_if_orphan(rel, older_than) for rel in sorted(unreferenced))

    for name in old_files(AUDIO_DIR, older_than):
        scanned += 1
        if files.is_temporary(name):   # an abandoned filesystem write
            files.delete(name)
            deleted += 1
            continue
        batch.append(name)
        if len(batch) >= BATCH:
            deleted += flush()
    if batch:
        deleted += flush()
    if deleted:
        log.info("orphan sweeper: %d of %d old files under %s/ deleted", deleted, scanned, AUDIO_DIR)
    return SweepResult(scanned, deleted)

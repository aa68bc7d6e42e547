"""Running journal refreshes: fold pending rows into the map summary in batches, and ask for one soon.

Each batch is one transaction (``maps_tilecell_refresh``): applied rows and their removal from the
journal commit together, so a worker killed mid-batch loses nothing and repeats nothing. After a batch
that applied rows the tile generation is bumped on commit, which also invalidates cached tiles after
writes that sent no Django signal (bulk SQL). Who calls: the ``maps.refresh_summary`` Celery task
(beat every :data:`~server.maps.schedule.REFRESH_EVERY_S` seconds, and enqueued on commit after an
observation is saved or deleted, at most one queued at a time: :func:`~server.maps.tasks.request_refresh`),
``generate_observations``, tests.
"""
from __future__ import annotations

import time

from django.db import connections, transaction

from . import generation
from .summary import PENDING_TABLE, REFRESH_LOCK

BATCH_ROWS = 20_000        # journal rows per transaction


def refresh_batch(limit: int | None = BATCH_ROWS, *, wait: bool = True, using: str = "default") -> int | None:
    """Fold the oldest ``limit`` (None: all) journal rows in one transaction; how many, or None when
    ``wait`` is false and another refresh (or a rebuild) holds the lock."""
    with transaction.atomic(using=using), connections[using].cursor() as cur:
        if not wait:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [REFRESH_LOCK])
            if not cur.fetchone()[0]:
                return None
        cur.execute("SELECT maps_tilecell_refresh(%s)", [limit])
        applied = int(cur.fetchone()[0])
        if applied:
            transaction.on_commit(generation.bump, using=using)
    return applied


def drain(limit: int = BATCH_ROWS, *, max_seconds: float | None = None, wait: bool = True,
          using: str = "default") -> tuple[int, bool]:
    """Refresh batch after batch until the journal is empty, the lock is busy (``wait`` false) or
    ``max_seconds`` passed; returns (rows applied, whether rows may be left)."""
    started, total = time.monotonic(), 0
    while True:
        applied = refresh_batch(limit, wait=wait, using=using)
        if applied is None:
            return total, False  # the lock holder refreshes (or a rebuild recounts) instead
        total += applied
        if applied < limit:
            return total, False
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            return total, True


def pending_rows(using: str = "default") -> int:
    with connections[using].cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {PENDING_TABLE}")
        return int(cur.fetchone()[0])

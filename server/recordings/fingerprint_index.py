"""The landmark inverted index (table of FingerprintHash).

Analysing a recording adds ~150 landmarks and probes ~450 hashes, on every recording. The insert is
one ``unnest`` statement instead of one ORM object per landmark, and the probe one ``LATERAL`` index
probe per hash (see :func:`candidates`); both are kept on ``tests/benchmarks/bench_recording_sql.py``
(``docs/performance.md``, *The analysis task's SQL*). Reading one recording's fingerprint goes through the ORM.
"""
from __future__ import annotations

import numpy as np
from django.db import connection

from .models import FingerprintHash

TABLE = FingerprintHash._meta.db_table
PROBE_LIMIT = 64  # index rows read per probe hash; more frequent hashes are capped


def add(recording_id, landmarks: np.ndarray) -> None:
    """Index a recording's (hash, offset) landmarks."""
    if len(landmarks) == 0:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {TABLE} (hash, recording_id, "offset") '
            "SELECT h, %s, o FROM unnest(%s::bigint[], %s::integer[]) AS t(h, o)",
            [recording_id, landmarks[:, 0].tolist(), landmarks[:, 1].tolist()])


def candidates(hashes: np.ndarray, exclude_id, min_hits: int, limit: int,
               per_hash: int = PROBE_LIMIT) -> list[tuple[object, int]]:
    """Recordings with at least ``min_hits`` index hits for ``hashes``, most hits first.

    One index probe per hash (LATERAL ... LIMIT), whatever the table statistics say: with a
    plain ``hash = ANY(...)`` the planner picks a sequential scan while the table is young
    and its statistics stale. Hashes that occur more than ``per_hash`` times carry little
    evidence and are capped.
    """
    if len(hashes) == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.recording_id, count(*) AS hits FROM unnest(%s::bigint[]) AS q(h) "
            f"CROSS JOIN LATERAL (SELECT recording_id FROM {TABLE} "
            "WHERE hash = q.h AND recording_id <> %s LIMIT %s) AS f "
            "GROUP BY f.recording_id HAVING count(*) >= %s ORDER BY hits DESC LIMIT %s",
            [hashes.tolist(), exclude_id, per_hash, min_hits, limit])
        return cursor.fetchall()


def landmarks_of(recording_id) -> np.ndarray:
    """A recording's whole fingerprint as an (n, 2) int64 array."""
    rows = FingerprintHash.objects.filter(recording_id=recording_id).values_list("hash", "offset")
    return np.array(list(rows), dtype=np.int64).reshape(-1, 2)

"""The landmark inverted index (table of FingerprintHash) queried with array SQL.

One statement each way instead of one ORM object per landmark: analysing a recording adds
~150 landmarks and looks up ~450 probe hashes, on every recording.
"""
from __future__ import annotations

import numpy as np
from django.db import connection

from .models import FingerprintHash

TABLE = FingerprintHash._meta.db_table


def add(recording_id, landmarks: np.ndarray) -> None:
    """Index a recording's (hash, offset) landmarks."""
    if len(landmarks) == 0:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {TABLE} (hash, recording_id, "offset") '
            "SELECT h, %s, o FROM unnest(%s::bigint[], %s::integer[]) AS t(h, o)",
            [recording_id, landmarks[:, 0].tolist(), landmarks[:, 1].tolist()])


def candidates(hashes: np.ndarray, exclude_id, min_hits: int, limit: int) -> list[tuple[object, int]]:
    """Recordings with at least ``min_hits`` index hits for ``hashes``, most hits first."""
    if len(hashes) == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT recording_id, count(*) AS hits FROM {TABLE} "
            "WHERE hash = ANY(%s::bigint[]) AND recording_id <> %s "
            "GROUP BY recording_id HAVING count(*) >= %s ORDER BY hits DESC LIMIT %s",
            [hashes.tolist(), exclude_id, min_hits, limit])
        return cursor.fetchall()


def landmarks_of(recording_id) -> np.ndarray:
    """A recording's whole fingerprint as an (n, 2) int64 array."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT hash, "offset" FROM {TABLE} WHERE recording_id = %s', [recording_id])
        return np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)

"""Claim a recording for analysis: one UPDATE that marks it processing and counts the attempt.

The claim is advisory (a crash only leaves a count and a status that the sweeper and the next
attempt handle), so its commit does not wait for the WAL flush (``synchronous_commit`` off for
this statement's own transaction). The claim and everything the task needs of the row (audio path,
segment, the claimed species' band) come back from this one statement.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import connection

from server.species.models import Species

from .models import FINAL_STATUSES, Recording, Status

_CLAIM = (
    f"UPDATE {Recording._meta.db_table} r SET status = %s, analysis_attempts = r.analysis_attempts + 1, "
    "updated_at = now() FROM (SELECT set_config('synchronous_commit', 'off', true)) AS advisory_commit "
    f"WHERE r.id = %s AND r.status NOT IN ({', '.join(['%s'] * len(FINAL_STATUSES))}) "
    "RETURNING r.analysis_attempts, r.audio_path, r.segment_start_s, r.segment_end_s, "
    f"(SELECT ARRAY[s.band_low_hz, s.band_high_hz] FROM {Species._meta.db_table} s WHERE s.id = r.claimed_species_id)"
)


@dataclass(frozen=True)
class Claim:
    id: uuid.UUID | str
    attempts: int
    audio_path: str
    segment: tuple[float, float]
    band: tuple[float, float] | None  # the claimed species' plausible band, when it has one


def claim(recording_id) -> Claim | None:
    """Mark the recording as processing (counting attempts); None if it is missing or already final."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [Status.PROCESSING.value, recording_id, *[s.value for s in FINAL_STATUSES]])
        row = cursor.fetchone()
    if row is None:
        return None
    attempts, path, start, end, band = row
    return Claim(recording_id, attempts, path, (start, end),
                 (band[0], band[1]) if band and None not in band else None)

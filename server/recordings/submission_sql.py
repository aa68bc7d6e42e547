"""The upload's two statements, in plain SQL: look up prior submissions, insert the new row.

Every upload runs both, so they skip the ORM's per-query work (figures: ``docs/performance.md``).
The lookup is written so that each branch uses its unique index in any plan, generic ones
included (psycopg prepares a statement after five runs): ``session_nonce = $1`` alone cannot use
the partial unique index, and a generic plan then scans the whole table.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from . import blob_refs
from .models import Recording, Status

TABLE = Recording._meta.db_table

# Every concrete column of Recording, in this order (tests/server/test_ingest.py checks the list
# against the model, so a new field cannot be forgotten here).
INSERT_COLUMNS = (
    "id", "owner_id", "idempotency_key", "audio_sha256", "audio_path", "audio_format", "audio_bytes",
    "sample_rate", "channels", "duration_s", "recorded_at", "location", "accuracy_m", "segment_start_s",
    "segment_end_s", "claimed_species_id", "device_confidence", "device_model_version", "device_info",
    "license", "rating", "background_species", "status", "reject_code", "reject_reason", "analysis", "pcm_digest", "duplicate_of_id", "speech_muted",
    "analysis_attempts", "notes", "session_nonce", "enqueued_at", "analysed_at", "created_at", "updated_at",
)
# The FROM clause takes the audio file's advisory lock (blob_refs) before the row is inserted, in the
# same round trip; the lock holds until the caller's transaction commits.
_INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(connection.ops.quote_name(c) for c in INSERT_COLUMNS)}) SELECT "
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, %s, %s, %s, %s, "
    f"%s, %s::jsonb, %s, %s, %s, '{Status.RECEIVED.value}', '', '', '{{}}'::jsonb, '', NULL, false, 0, %s, %s, %s, NULL, %s, %s "
    "FROM (SELECT pg_advisory_xact_lock(%s, %s)) AS blob_lock "
    "ON CONFLICT DO NOTHING RETURNING id"
)
_PRIOR = (
    f"(SELECT id, owner_id, idempotency_key, audio_sha256, status FROM {TABLE} "
    " WHERE owner_id = %s AND idempotency_key = %s) "
    f"UNION ALL (SELECT id, owner_id, idempotency_key, audio_sha256, status FROM {TABLE} "
    " WHERE session_nonce = %s AND session_nonce <> '') LIMIT 2"
)


@dataclass(frozen=True)
class Submission:
    """What an upload answers with: the recording's id and status."""

    id: uuid.UUID
    status: str
    audio_sha256: str = ""


@dataclass(frozen=True)
class NewRecording:
    owner_id: int
    idempotency_key: str
    audio_sha256: str
    audio_path: str
    audio_format: str
    audio_bytes: int
    sample_rate: int
    channels: int
    duration_s: float
    recorded_at: datetime
    lng: float
    lat: float
    accuracy_m: float
    segment_start_s: float
    segment_end_s: float
    claimed_species_id: int | None
    device_confidence: float | None
    device_model_version: str
    device_info: dict
    session_nonce: str
    now: datetime
    license: str = ""  # the recordist's terms (server/observations/record_terms.py)
    rating: str = ""
    background_species: tuple[str, ...] = ()
    notes: str = ""  # the recordist's notes, editable later (recordings/withdraw.py)


def prior_submissions(owner_id: int, key: str, nonce: str | None) -> tuple[Submission | None, bool]:
    """(the owner's submission with this key, whether another recording used this session token)."""
    with connection.cursor() as cursor:
        cursor.execute(_PRIOR, [owner_id, key, nonce or ""])
        rows = cursor.fetchall()
    original = next((Submission(r[0], r[4], r[3]) for r in rows if r[1] == owner_id and r[2] == key), None)
    return original, any(not (r[1] == owner_id and r[2] == key) for r in rows)


def insert_recording(row: NewRecording) -> Submission | None:
    """Insert a 'received' recording; None when a unique constraint (key, session token) holds one already.

    Takes the lock of ``row.audio_path`` (:func:`blob_refs.lock`) first, so call it inside
    ``transaction.atomic`` and write the file before that transaction commits.
    """
    rec_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [
            rec_id, row.owner_id, row.idempotency_key, row.audio_sha256, row.audio_path, row.audio_format,
            row.audio_bytes, row.sample_rate, row.channels, row.duration_s, row.recorded_at, row.lng, row.lat,
            row.accuracy_m, row.segment_start_s, row.segment_end_s, row.claimed_species_id, row.device_confidence,
            row.device_model_version, json.dumps(row.device_info), row.license, row.rating,
            list(row.background_species), row.notes, row.session_nonce, row.now, row.now, row.now,
            *blob_refs.lock_key(row.audio_path)])
        inserted = cursor.fetchone()
    return None if inserted is None else Submission(rec_id, Status.RECEIVED.value, row.audio_sha256)

"""Ingest one submission: validate, store content-addressed, create the row, enqueue analysis."""
from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from ml.runtime.audio import AudioError, AudioInfo, probe
from server.common.errors import ApiError
from server.species.lookup import identifiable_species
from server.species.models import Species

from . import session_token, storage
from .metadata import UNKNOWN_LABEL
from .models import Recording, Status

log = logging.getLogger(__name__)
SEGMENT_TOLERANCE_S = 0.05
AUDIO_ERROR_STATUS = {"audio_too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE}


@dataclass(frozen=True)
class IngestResult:
    recording: Recording
    created: bool


def too_large(limit: int) -> ApiError:
    return ApiError("audio_too_large", f"The audio file exceeds {limit // (1024 * 1024)} MB.",
                    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def read_upload(upload) -> bytes:
    """The uploaded bytes, refusing more than the configured limit."""
    if upload is None:
        raise ApiError("audio_missing", "Attach the recording as the multipart field 'audio'.")
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise too_large(limit)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    return data


def probe_audio(data: bytes) -> AudioInfo:
    try:
        return probe(data, max_bytes=settings.MAX_UPLOAD_BYTES, max_seconds=settings.MAX_AUDIO_SECONDS)
    except AudioError as exc:
        raise ApiError(exc.code, exc.message, AUDIO_ERROR_STATUS.get(exc.code, 400),
                       fields={"audio": exc.message}) from None


def resolve_species(label: str) -> Species | None:
    if label.strip().lower() == UNKNOWN_LABEL:
        return None
    species = identifiable_species(label.strip())
    if species is None:
        raise ApiError("unknown_species", f"{label!r} is not in the species catalogue.",
                       fields={"identification.label": "unknown species"})
    return species


def check_replay(original: Recording | None, sha: str | None) -> Recording | None:
    if original is not None and sha is not None and original.audio_sha256 != sha:
        raise ApiError("idempotency_key_reused", "This idempotency key was used for a different recording.",
                       status.HTTP_409_CONFLICT)
    return original


def prior_submissions(owner, key: str, nonce: str | None) -> tuple[Recording | None, bool]:
    """(the owner's submission with this key, whether another recording used this session token),
    in one query: both are checked on every upload."""
    match = Q(owner=owner, idempotency_key=key)
    if nonce is not None:
        match |= Q(session_nonce=nonce)
    rows = list(Recording.objects.filter(match).only("id", "owner_id", "idempotency_key", "audio_sha256",
                                                     "status", "session_nonce")[:2])
    original = next((r for r in rows if r.owner_id == owner.pk and r.idempotency_key == key), None)
    return original, any(r is not original for r in rows)


def ingest(owner, upload, meta: dict) -> IngestResult:
    """Validate and store one submission. Repeating a key returns the original recording.

    The upload is one INSERT in autocommit (no explicit transaction: it is a single statement), and
    analysis is queued once it is committed. Lookups cost one query: the idempotency key (replays
    return the original even after their session token expired) together with the token's nonce.
    """
    data = read_upload(upload)
    sha = storage.sha256_hex(data)
    key = meta["idempotency_key"]
    try:
        nonce, token_error = session_token.verify(meta.get("session_token"), owner.pk, meta["recorded_at"]), None
    except ApiError as exc:
        nonce, token_error = None, exc
    original, nonce_used = prior_submissions(owner, key, nonce)
    if check_replay(original, sha) is not None:
        return IngestResult(original, created=False)
    if token_error is not None:
        raise token_error
    if nonce_used:
        raise session_token.reused()
    info = probe_audio(data)
    segment = meta["segment"]
    if segment["end_s"] > info.duration + SEGMENT_TOLERANCE_S or segment["start_s"] >= info.duration:
        raise ApiError("segment_out_of_range",
                       f"The segment ends at {segment['end_s']:.2f} s but the audio lasts {info.duration:.2f} s.",
                       fields={"segment.end_s": "beyond the end of the audio"})
    ident = meta["identification"]
    species = resolve_species(ident["label"])
    _, rel = storage.store_blob(data, info.format)
    loc = meta["location"]
    try:
        # a single INSERT needs no transaction; a savepoint only when the caller already holds one
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            recording = Recording.objects.create(
                owner=owner, idempotency_key=key, audio_sha256=sha, audio_path=rel,
                audio_format=info.format, audio_bytes=len(data), sample_rate=info.sample_rate,
                channels=info.channels, duration_s=info.duration, recorded_at=meta["recorded_at"],
                location=Point(loc["lng"], loc["lat"], srid=4326), accuracy_m=loc["accuracy_m"],
                segment_start_s=segment["start_s"], segment_end_s=min(segment["end_s"], info.duration),
                claimed_species=species, device_confidence=ident.get("confidence"),
                device_model_version=ident.get("model_version", ""), device_info=meta.get("device", {}),
                session_nonce=nonce, enqueued_at=timezone.now())
    except IntegrityError:
        # a concurrent request with the same key (or the same session token) won the race
        original, nonce_used = prior_submissions(owner, key, nonce)
        if check_replay(original, sha) is not None:
            return IngestResult(original, created=False)
        if nonce_used:
            raise session_token.reused() from None
        raise
    transaction.on_commit(lambda: enqueue_analysis(recording.pk))   # at once in autocommit
    return IngestResult(recording, created=True)


def enqueue_analysis(recording_id) -> bool:
    """Queue analysis. ``enqueued_at`` is set optimistically; when the broker is down it is
    cleared, and the row stays 'received' until the sweeper queues it again."""
    from .tasks import analyse_recording

    try:
        analyse_recording.apply_async(args=[str(recording_id)], retry=False)
    except Exception as exc:  # broker unreachable: never lose the submission
        log.warning("could not enqueue analysis of %s: %s", recording_id, exc)
        Recording.objects.filter(pk=recording_id, status=Status.RECEIVED).update(enqueued_at=None)
        return False
    return True

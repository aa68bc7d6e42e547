"""Ingest one submission: validate, store content-addressed, create the row, enqueue analysis."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from ml.runtime.audio import AudioError, AudioInfo, probe
from server.common.errors import ApiError
from server.species.lookup import identifiable_species

from . import blob_refs, session_token, storage
from .metadata import UNKNOWN_LABEL
from .models import Status
from .submission_sql import NewRecording, Submission, insert_recording, prior_submissions
from .tasks import enqueue_analysis

if TYPE_CHECKING:
    from server.species.models import Species

log = logging.getLogger(__name__)
SEGMENT_TOLERANCE_S = 0.05
AUDIO_ERROR_STATUS = {"audio_too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE}


@dataclass(frozen=True)
class IngestResult:
    recording: Submission
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


def withdrawn_error() -> ApiError:
    return ApiError("recording_withdrawn", "This recording was withdrawn by its recordist.", status.HTTP_410_GONE)


def check_replay(original: Submission | None, sha: str) -> Submission | None:
    if original is not None and original.status == Status.WITHDRAWN:
        raise withdrawn_error()  # the key's recording was withdrawn: its phone drops the queued copy
    if original is not None and original.audio_sha256 != sha:
        raise ApiError("idempotency_key_reused", "This idempotency key was used for a different recording.",
                       status.HTTP_409_CONFLICT)
    return original


def ingest(owner, upload, meta: dict) -> IngestResult:
    """Validate and store one submission. Repeating a key returns the original recording.

    Two statements (``submission_sql``): one lookup of the idempotency key (replays return the
    original even after their session token expired) together with the token's nonce, then one
    INSERT that a concurrent twin cannot turn into an error (``ON CONFLICT DO NOTHING``, then the
    lookup again). The audio file is written after that INSERT and before its commit
    (:func:`insert_and_store`), so a refused or failed upload leaves no file behind.
    """
    data = read_upload(upload)
    sha = storage.sha256_hex(data)
    key = meta["idempotency_key"]
    try:
        nonce, token_error = session_token.verify(meta.get("session_token"), owner.pk, meta["recorded_at"]), None
    except ApiError as exc:
        nonce, token_error = None, exc
    original, nonce_used = prior_submissions(owner.pk, key, nonce)
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
    rel = storage.relative_path(sha, info.format)
    loc = meta["location"]
    row = NewRecording(
        owner_id=owner.pk, idempotency_key=key, audio_sha256=sha, audio_path=rel, audio_format=info.format,
        audio_bytes=len(data), sample_rate=info.sample_rate, channels=info.channels, duration_s=info.duration,
        recorded_at=meta["recorded_at"], lng=loc["lng"], lat=loc["lat"], accuracy_m=loc["accuracy_m"],
        segment_start_s=segment["start_s"], segment_end_s=min(segment["end_s"], info.duration),
        claimed_species_id=species.pk if species else None, device_confidence=ident.get("confidence"),
        device_model_version=ident.get("model_version", ""), device_info=meta.get("device", {}),
        license=meta["license"], rating=meta["rating"], background_species=tuple(meta["background_species"]),
        notes=meta.get("notes", ""), session_nonce=nonce, now=timezone.now())
    created = insert_and_store(row, data)
    if created is None:  # a concurrent request with the same key (or the same session token) won the race
        original, nonce_used = prior_submissions(owner.pk, key, nonce)
        if check_replay(original, sha) is not None:
            return IngestResult(original, created=False)
        if nonce_used:
            raise session_token.reused()
        raise ApiError("submission_conflict", "A concurrent submission conflicted with this one; send it again.",
                       status.HTTP_409_CONFLICT)
    return IngestResult(created, created=True)


def insert_and_store(row: NewRecording, data: bytes) -> Submission | None:
    """INSERT the row, then write its audio file, in one transaction; None (and no file) when the row lost a race.

    Nothing a rollback leaves behind: the INSERT takes the file's lock (``blob_refs``), so the file
    is written only for a row that will commit, and any failure before the commit (the write, the
    commit itself) deletes a file this call created unless a committed row shares it. Analysis is
    queued once the row is committed.
    """
    wrote = False
    try:
        with transaction.atomic():
            created = insert_recording(row)
            if created is None:
                return None
            wrote = not storage.exists(row.audio_path)
            storage.store_blob(data, row.audio_format, row.audio_sha256)
            transaction.on_commit(lambda: enqueue_analysis(created.id))
    except BaseException:
        if wrote:
            try:
                blob_refs.discard_unreferenced(row.audio_path)
            except Exception as exc:  # e.g. the database went away: the orphan sweeper removes it later
                log.warning("could not remove the audio of a failed upload (%s): %s", row.audio_path, exc)
        raise
    return created

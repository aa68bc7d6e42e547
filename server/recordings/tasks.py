"""Celery tasks: analyse a recording (idempotent, acknowledged late) and sweep stuck ones."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ml.runtime.audio import AudioError

from . import storage
from .analysis import AnalysisOutcome, analyse_audio
from .models import FINAL_STATUSES, Recording, Status
from .outcome import apply_outcome

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def claim(recording_id: str) -> Recording | None:
    """Mark the recording as processing (counting attempts); None if it is already final."""
    with transaction.atomic():
        # The claim is advisory (status and attempt count); losing it in a crash is harmless,
        # so it need not wait for the WAL flush.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        rec = (Recording.objects.select_for_update(of=("self",)).select_related("claimed_species")
               .filter(pk=recording_id).first())
        if rec is None or rec.status in FINAL_STATUSES:
            return None
        rec.status = Status.PROCESSING
        rec.analysis_attempts += 1
        rec.save(update_fields=["status", "analysis_attempts", "updated_at"])
        return rec


def reject(recording_id, code: str, reason: str) -> str:
    """Finish a recording as rejected before any audio analysis could run."""
    return apply_outcome(recording_id, AnalysisOutcome(reject_code=code, reject_reason=reason))


@shared_task(name="recordings.analyse", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, retry_backoff_max=60,
             max_retries=8)
def analyse_recording(recording_id: str) -> str:
    """Analyse one recording exactly once; safe to run again after a crash or a duplicate message."""
    rec = claim(recording_id)
    if rec is None:
        return "skipped"
    if rec.analysis_attempts > MAX_ATTEMPTS:
        return reject(rec.pk, "analysis_failed", f"Analysis failed {MAX_ATTEMPTS} times; kept for review.")
    try:
        data = storage.read_blob(rec.audio_path)
    except OSError as exc:
        return reject(rec.pk, "audio_missing", f"Stored audio is unreadable: {exc}")
    band = rec.claimed_species.band if rec.claimed_species else None
    try:
        outcome = analyse_audio(data, (rec.segment_start_s, rec.segment_end_s), band)
    except AudioError as exc:
        return reject(rec.pk, exc.code, exc.message)
    return apply_outcome(rec.pk, outcome)


@shared_task(name="recordings.sweep_stuck")
def sweep_stuck_recordings() -> int:
    """Re-enqueue recordings left 'received' (broker was down) or 'processing' far too long."""
    from .ingest import enqueue_analysis

    now = timezone.now()
    received_before = now - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    processing_before = now - timedelta(
        seconds=2 * settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    stuck = list(
        Recording.objects.filter(status=Status.RECEIVED, created_at__lt=received_before)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=received_before))
        .values_list("pk", flat=True)[:500]
    ) + list(
        Recording.objects.filter(status=Status.PROCESSING, updated_at__lt=processing_before)
        .values_list("pk", flat=True)[:500]
    )
    sent = [pk for pk in stuck if enqueue_analysis(pk)]
    Recording.objects.filter(pk__in=sent, status=Status.RECEIVED).update(enqueued_at=now)
    if stuck:
        log.info("sweeper: %d stuck recordings, %d re-enqueued", len(stuck), len(sent))
    return len(sent)


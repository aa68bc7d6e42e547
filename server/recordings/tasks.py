"""Celery tasks: analyse a recording (idempotent, acknowledged late) with the classifier and the verifier looked up here,
enqueue it, sweep stuck recordings and unreferenced audio."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Q
from django.utils import timezone

from ml.runtime.audio import AudioError
from ml.runtime.classifier import Classifier, load_classifier
from server.modelregistry.services import current_classifier

from . import storage
from .analysis import AnalysisOutcome, analyse_audio
from .claim import claim
from .models import Recording, Status
from .outcome import apply_outcome

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def analysis_classifier() -> Classifier:
    """The model analysis classifies with: ``$DAWN_MODEL_PATH`` when set (pins one file), else the
    registry's current field model (a promotion reaches the worker within
    ``modelregistry.services.CURRENT_CACHE_SECONDS``)."""
    if settings.CLASSIFIER_MODEL_PATH:
        return load_classifier(settings.CLASSIFIER_MODEL_PATH)
    return current_classifier()


_verifier: list = []  # [Verifier | None] once looked up in this process


def analysis_verifier():
    """The verifier that joins the field model in the verdict (``ml.verifier``), or None: ``DAWN_VERIFIER=off``,
    the ``teachers`` extra not installed, or no readable verifier file (logged once). Looked up once per process."""
    if settings.VERIFIER == "off":
        return None
    if not _verifier:
        from ml.runtime.model_format import ModelFormatError
        from ml.teachers.birdnet import TeacherUnavailable
        from ml.verifier import load_verifier

        try:
            _verifier.append(load_verifier(settings.VERIFIER_PATH))
        except TeacherUnavailable as exc:
            log.info("verifier off: %s; the field model decides alone", exc)
            _verifier.append(None)
        except ModelFormatError as exc:
            log.warning("verifier off: %s; the field model decides alone", exc)
            _verifier.append(None)
    return _verifier[0]


PRIOR_REFRESH_SECONDS = 600
_prior: list = []  # [(monotonic time built, SpeciesPrior | None)]


def analysis_prior(lat: float, lng: float, when) -> dict[str, float] | None:
    """The location/date prior's weights at a recording's place and date, from accepted observations
    (``observations.services.prior_records``, rebuilt every :data:`PRIOR_REFRESH_SECONDS`); None without any."""
    from ml.runtime.prior import SpeciesPrior
    from server.observations.services import prior_records

    if not _prior or time.monotonic() - _prior[0][0] > PRIOR_REFRESH_SECONDS:
        prior = SpeciesPrior.from_records(prior_records())
        _prior[:] = [(time.monotonic(), prior if prior.labels.size else None)]
    prior = _prior[0][1]
    if prior is None:
        return None
    try:
        return prior.weights(lat, lng, when)
    except ValueError:
        return None


def reject(rec: Recording, code: str, reason: str) -> str:
    """Finish a claimed recording as rejected before any audio analysis could run."""
    return apply_outcome(rec, AnalysisOutcome(reject_code=code, reject_reason=reason))


@shared_task(name="recordings.analyse", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, retry_backoff_max=60,
             max_retries=8)
def analyse_recording(recording_id: str) -> str:
    """Analyse one recording exactly once; safe to run again after a crash or a duplicate message."""
    claimed = claim(recording_id)
    if claimed is None:
        return "skipped"
    if claimed.attempts > MAX_ATTEMPTS:
        return reject(claimed.recording, "analysis_failed", f"Analysis failed {MAX_ATTEMPTS} times; kept for review.")
    try:
        data = storage.read_blob(claimed.audio_path)
    except OSError as exc:
        return reject(claimed.recording, "audio_missing", f"Stored audio is unreadable: {exc}")
    rec = claimed.recording
    prior = analysis_prior(rec.location.y, rec.location.x, rec.recorded_at.date())
    try:
        outcome = analyse_audio(data, claimed.segment, claimed.band, analysis_classifier(), analysis_verifier(), prior)
    except AudioError as exc:
        return reject(claimed.recording, exc.code, exc.message)
    return apply_outcome(claimed.recording, outcome)


def enqueue_analysis(recording_id) -> bool:
    """Queue analysis. ``enqueued_at`` is set optimistically; when the broker is down it is
    cleared, and the row stays 'received' until the sweeper queues it again."""
    try:
        analyse_recording.apply_async(args=[str(recording_id)], retry=False)
    except Exception as exc:  # broker unreachable: never lose the submission
        log.warning("could not enqueue analysis of %s: %s", recording_id, exc)
        Recording.objects.filter(pk=recording_id, status=Status.RECEIVED).update(enqueued_at=None)
        return False
    return True


@shared_task(name="recordings.sweep_stuck")
def sweep_stuck_recordings() -> int:
    """Re-enqueue recordings left 'received' (broker was down) or 'processing' far too long."""
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



@shared_task(name="recordings.sweep_orphans")
def sweep_orphan_audio() -> int:
    """Delete audio files no recording references, once older than ``ORPHAN_BLOB_GRACE_SECONDS``."""
    from .orphans import sweep

    return sweep(settings.ORPHAN_BLOB_GRACE_SECONDS).deleted

"""Turn an analysis outcome into rows (duplicate check, observation, fingerprint index) and end with the
one domain event, :class:`~.events.RecordingAnalysed`, sent after commit."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ml.runtime import fingerprint
from server.observations import public_clips
from server.observations.record_terms import DEFAULT_LICENSE_URL
from server.observations.services import build_observation, initial_status
from server.species.lookup import kind_of, species_by_label

from . import blob_refs, decision, events, fingerprint_index, storage
from .analysis import AnalysisOutcome
from .models import FINAL_STATUSES, Recording, Status

if TYPE_CHECKING:
    from server.species.models import Species

CASUAL_CONFIDENCE = 0.2   # below this model probability for the species, the observation is casual
CASUAL_ACCURACY_M = 1000  # GPS worse than this makes an observation casual
MAX_CANDIDATES = 20


def find_duplicate(rec: Recording, outcome: AnalysisOutcome) -> Recording | None:
    """An earlier recording with the same PCM, or whose landmark fingerprint matches this one's.

    Candidates are the recordings with most index hits (counted in SQL); each is then scored
    against its *whole* fingerprint, as :func:`fingerprint.match` requires.
    """
    same = (Recording.objects.filter(pcm_digest=outcome.pcm_digest).exclude(pk=rec.pk)
            .order_by("created_at").first())
    if same is not None:
        return same
    query = outcome.landmarks
    if query is None or len(query) == 0:
        return None
    for cand_id, _hits in fingerprint_index.candidates(fingerprint.lookup_hashes(query), rec.pk,
                                                      fingerprint.MIN_MATCHED, MAX_CANDIDATES):
        if fingerprint.is_duplicate(fingerprint.match(query, fingerprint_index.landmarks_of(cand_id))):
            return Recording.objects.get(pk=cand_id)
    return None


def submitted_before(audio_sha256, created_at) -> QuerySet[Recording]:
    """Recordings of the same audio bytes submitted before ``created_at`` (values, or ``OuterRef``
    expressions in a subquery): the one definition of a replay, for :func:`replayed` and :mod:`.services`."""
    return Recording.objects.filter(audio_sha256=audio_sha256, created_at__lt=created_at)


def replayed(rec: Recording) -> bool:
    """The same audio bytes were submitted earlier (by anyone): the observation stands, it earns nothing."""
    return submitted_before(rec.audio_sha256, rec.created_at).exists()


def decide_species(rec: Recording, outcome: AnalysisOutcome) -> tuple[Species | None, decision.Decision]:
    """The claim (scored by the model) or, without one, the model's answer; see :mod:`.decision`."""
    pred = outcome.prediction
    claimed = rec.claimed_species
    claim = None if claimed is None else decision.Answer(
        claimed.label, claimed.kind, rec.device_confidence, rec.device_model_version)
    model = None if pred is None else decision.Answer(
        pred.label, "" if pred.unknown else kind_of(pred.label), pred.confidence, pred.model_version)
    score = 0.0 if claimed is None else outcome.probabilities.get(claimed.label, 0.0)
    models = {name: decision.Answer(a.label, "" if a.unknown else kind_of(a.label), a.confidence, a.model_version)
              for name, a in outcome.answers.items()}
    verdict = decision.decide(claim, model, pred is None or pred.unknown, score, models)
    if verdict.label is None:
        return None, verdict
    species = claimed if claimed is not None else species_by_label(verdict.label)
    return species, verdict


def finish(rec: Recording, outcome: AnalysisOutcome, code: str = "", reason: str = "") -> None:
    rec.analysis = outcome.report
    rec.pcm_digest = outcome.pcm_digest
    rec.analysed_at = timezone.now()
    rec.status = Status.REJECTED if code else Status.ACCEPTED
    rec.reject_code, rec.reject_reason = code, reason[:300]
    rec.save(update_fields=["analysis", "pcm_digest", "analysed_at", "status", "reject_code", "reject_reason",
                            "duplicate_of", "audio_path", "audio_format", "speech_muted", "updated_at"])


def store_muted_audio(rec: Recording, outcome: AnalysisOutcome) -> str | None:
    """Replace the stored audio by its speech-muted copy; returns the path to delete after commit.

    The copy is written under its lock (``blob_refs``), held until the caller's transaction ends."""
    if outcome.muted_audio is None:
        return None
    old = rec.audio_path
    sha = storage.sha256_hex(outcome.muted_audio)
    blob_refs.lock(storage.relative_path(sha, "flac"))
    _, rel = storage.store_blob(outcome.muted_audio, "flac", sha)
    rec.audio_path, rec.audio_format, rec.speech_muted = rel, "flac", True
    return old


def apply_outcome(rec: Recording, outcome: AnalysisOutcome) -> str:
    """Write the outcome's rows for ``rec`` (as ``claim.claim`` read it) in one transaction; a public clip
    written for it is removed if that fails. "skipped" when another attempt finished the recording."""
    written: list[str] = []
    try:
        return _apply_outcome(rec, outcome, written)
    except BaseException:
        public_clips.discard(written)
        raise


def _apply_outcome(rec: Recording, outcome: AnalysisOutcome, written: list[str]) -> str:
    with transaction.atomic():
        status = (Recording.objects.select_for_update().filter(pk=rec.pk)
                  .values_list("status", flat=True).first())
        if status is None or status in FINAL_STATUSES:
            return "skipped"
        replaced = store_muted_audio(rec, outcome)
        if replaced:   # kept while another committed recording shares the file
            transaction.on_commit(lambda: blob_refs.discard_unreferenced(replaced))
        duplicate = find_duplicate(rec, outcome) if outcome.landmarks is not None else None
        if duplicate is None and outcome.landmarks is not None:
            fingerprint_index.add(rec.pk, outcome.landmarks)
        observation = None
        if duplicate is not None:
            rec.duplicate_of = duplicate
            finish(rec, outcome, "duplicate_recording",
                   f"The same audio was already submitted (recording {duplicate.pk}).")
        elif outcome.rejected:
            finish(rec, outcome, outcome.reject_code, outcome.reject_reason)
        else:
            species, verdict = decide_species(rec, outcome)
            if species is None:
                finish(rec, outcome, "unidentified", "No species could be identified; kept for review.")
            else:
                weak = verdict.confidence < CASUAL_CONFIDENCE and not verdict.kind_conflict
                casual = weak or rec.accuracy_m > CASUAL_ACCURACY_M
                observation = build_observation(
                    species=species, location=rec.location, seed=f"rec:{rec.pk}", recording=rec,
                    observer=rec.owner, observed_at=rec.recorded_at, confidence=round(verdict.confidence, 4),
                    coordinate_uncertainty_m=rec.accuracy_m,
                    status=initial_status(casual),
                    kind_conflict=verdict.kind_conflict, answers=verdict.answers,
                    recordist=rec.owner.display_name or rec.owner.username,
                    license=rec.license or DEFAULT_LICENSE_URL, rating=rec.rating,
                    background_species=list(rec.background_species))
                if public_clips.publishable(observation):
                    clip = public_clips.prepare(observation, outcome.public_clip())
                    written += [clip] if clip else []
                observation.save()
                finish(rec, outcome)
        replay = duplicate is not None or (observation is not None and replayed(rec))
        events.emit_on_commit(events.RecordingAnalysed(
            recording_id=str(rec.pk), owner_id=rec.owner_id, status=rec.status, reject_code=rec.reject_code,
            reject_reason=rec.reject_reason, replay=replay,
            observation=None if observation is None else events.decided_observation(observation)))
    return rec.status

"""The CPU part of analysing one recording, free of database access.

decode → quality checks (on the marked segment) → speech privacy (whole file) →
fingerprint → the verdict on the marked segment (:func:`ml.verdict.server_verdict`: the field model, combined
with the verifier when one is given, which hears the segment decoded again at its own 48 kHz with the same
speech muted). The models are arguments: the task in ``tasks.py`` looks them up, calls :func:`analyse_audio`
and turns the outcome into database rows.
The outcome keeps the speech-muted marked segment for the public clip, encoded only when an observation
is published (:meth:`AnalysisOutcome.public_clip`). This module reads settings (limits, fault injection)
and imports nothing that reaches the database (``tests/server/test_analysis_without_database.py``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from ml.runtime import fingerprint, frequency_band, quality, reencode, speech
from ml.runtime.audio import AudioError, decode, encode_flac
from ml.runtime.classifier import Classifier, Prediction
from ml.verdict import server_verdict

SPEECH_REJECT_FRACTION = 0.5  # speech covering more of the marked segment than this rejects it


@dataclass
class AnalysisOutcome:
    reject_code: str = ""
    reject_reason: str = ""
    report: dict = field(default_factory=dict)
    prediction: Prediction | None = None  # the verdict (the field model's own answer without a verifier)
    probabilities: dict[str, float] = field(default_factory=dict)
    answers: dict[str, Prediction] = field(default_factory=dict)  # each model's own answer: field, verifier
    landmarks: np.ndarray | None = None
    pcm_digest: str = ""
    muted_audio: bytes | None = None  # FLAC of the whole recording with speech silenced
    segment_samples: np.ndarray | None = None  # the marked segment, speech muted (mono)
    sample_rate: int = 0

    def public_clip(self) -> bytes | None:
        """The marked segment, speech muted, as a tag-free Ogg/Opus clip (None: nothing to publish)."""
        if self.segment_samples is None:
            return None
        return reencode.public_clip(self.segment_samples, self.sample_rate)

    @property
    def rejected(self) -> bool:
        return bool(self.reject_code)


def fault_injection_delay() -> None:
    """``settings.FAULT_ANALYSIS_DELAY_S`` (DAWN_FAULT_ANALYSIS_DELAY_S) stretches analysis so fault tests
    can kill a worker mid-task."""
    if settings.FAULT_ANALYSIS_DELAY_S > 0:
        time.sleep(settings.FAULT_ANALYSIS_DELAY_S)


def overlap(spans: tuple[tuple[float, float], ...], start: float, end: float) -> float:
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)


def verifier_segment(data: bytes, verifier, segment: tuple[float, float],
                     speech_spans: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, int]:
    """The marked segment decoded at the verifier's rate, with the same speech spans muted."""
    from ml.teachers.birdnet import SAMPLE_RATE

    samples, sr = decode(data, sample_rate=SAMPLE_RATE, max_bytes=settings.MAX_UPLOAD_BYTES,
                         max_seconds=settings.MAX_AUDIO_SECONDS)
    if speech_spans:
        samples = speech.mute_segments(samples, sr, speech_spans)
    start = int(segment[0] * sr)
    return samples[start:max(int(segment[1] * sr), start + 1)], sr


def analyse_audio(data: bytes, segment: tuple[float, float], band: tuple[float, float] | None,
                  model: Classifier, verifier=None, prior: dict[str, float] | None = None) -> AnalysisOutcome:
    """Run every check on ``data`` and give the verdict on its marked ``segment`` (seconds).

    Audio is decoded at ``model``'s sample rate within the upload limits; a failed check sets
    ``reject_code`` and stops (an undecodable file rejects with the decoder's code). ``band`` (Hz)
    narrows the quality checks. ``verifier`` (an :class:`ml.verifier.Verifier`) and ``prior`` (location/date
    prior weights) go to :func:`ml.verdict.server_verdict`.
    """
    sr = model.feature_params.sample_rate
    out = AnalysisOutcome()
    try:
        samples, sr = decode(data, sample_rate=sr, max_bytes=settings.MAX_UPLOAD_BYTES,
                             max_seconds=settings.MAX_AUDIO_SECONDS)
    except AudioError as exc:
        out.reject_code, out.reject_reason = exc.code, exc.message
        return out
    fault_injection_delay()
    start, end = int(segment[0] * sr), max(int(segment[1] * sr), int(segment[0] * sr) + 1)
    clip = samples[start:end]

    q = quality.check_quality(clip, sr, band=band)
    out.report["quality"] = q.to_dict()

    s = speech.detect_speech(samples, sr)
    out.report["speech"] = s.to_dict()
    if s.segments:
        samples = speech.mute_segments(samples, sr, s.segments)
        clip = samples[start:end]
        out.muted_audio = encode_flac(samples, sr)

    out.pcm_digest = fingerprint.pcm_digest(samples)
    out.landmarks = fingerprint.landmarks(samples, sr)

    if not q.passed:
        issue = next(i for i in q.issues if i.severity == "reject")
        out.reject_code, out.reject_reason = f"quality_{issue.code}", issue.message
        return out
    if overlap(s.segments, *segment) > SPEECH_REJECT_FRACTION * (segment[1] - segment[0]):
        out.reject_code = "speech_detected"
        out.reject_reason = "Human speech fills the marked segment; it was muted and the recording not published."
        return out

    def audio48() -> tuple[np.ndarray, int]:  # decoded only when the verdict's gate lets the verifier run
        return verifier_segment(data, verifier, segment, s.segments)

    verdict = server_verdict(clip, sr, model, verifier, verifier_audio=audio48 if verifier is not None else None, prior=prior,
                             top_k=len(model.labels))
    out.probabilities = verdict.probabilities
    out.segment_samples, out.sample_rate = clip, sr
    out.prediction, out.answers = verdict.prediction, verdict.answers
    summary = verdict.prediction.to_dict()
    summary["ranked"] = summary["ranked"][:5]
    summary["answers"] = {name: {**a.to_dict(), "ranked": a.to_dict()["ranked"][:3]} for name, a in verdict.answers.items()}
    out.report["classification"] = summary
    band_hz = frequency_band.occupied_band(clip, sr)
    if band_hz is not None:   # the sound's measured band: ac:freqLow/ac:freqHigh in exports (maps/records.py)
        out.report["band_hz"] = list(band_hz)
    return out

"""On-device identification of the marked segment: classifier + quality + speech checks.

Pure Python over ``ml.runtime``; the Identify screen only displays :class:`Identification`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.runtime.classifier import UNKNOWN, Classifier, as_mono
from ml.runtime.prior import apply_prior
from ml.runtime.quality import check_quality
from ml.runtime.speech import detect_speech

VERDICT_TEXT = {
    "silent": "Too quiet", "low_snr": "Too quiet for the background", "clipped": "Clipped (too loud)",
    "speech_detected": "Speech detected (will be muted)", "implausible_band": "Unusual pitch for this species",
    "too_short": "Too short", "too_long": "Too long",
}


@dataclass(frozen=True)
class Verdict:
    code: str
    title: str
    message: str
    severity: str  # "reject" | "warn"


@dataclass(frozen=True)
class Identification:
    label: str  # top label or "unknown"
    confidence: float
    alternatives: tuple[tuple[str, float], ...]  # ranked, without the top one
    verdicts: tuple[Verdict, ...]
    model_version: str
    elapsed_ms: float

    @property
    def blocked(self) -> bool:
        """A reject verdict: the server would refuse this take."""
        return any(v.severity == "reject" for v in self.verdicts)


def segment_of(samples: np.ndarray, sample_rate: int, start_s: float, end_s: float) -> np.ndarray:
    x = np.asarray(samples)
    a = max(0, int(round(start_s * sample_rate)))
    b = min(x.shape[0], int(round(end_s * sample_rate)))
    if b <= a:
        raise ValueError("The selection is empty.")
    return x[a:b]


def identify(classifier: Classifier, samples: np.ndarray, sample_rate: int,
             species_bands: dict[str, tuple[float, float]] | None = None, top_k: int = 5,
             prior_weights: dict[str, float] | None = None) -> Identification:
    """Classify a marked segment (mono or binaural) and judge its quality.

    ``prior_weights`` (label -> weight in (0, 1], :meth:`ml.runtime.prior.SpeciesPrior.weights` for the
    place and date of the take) multiply the model's file probabilities before the decision, so a
    species rarely seen there and then ranks below a common one the model finds about as likely.
    """
    import time

    t0 = time.perf_counter()
    x = as_mono(samples)
    if prior_weights and hasattr(classifier, "file_probabilities") and hasattr(classifier, "decide"):
        probs = apply_prior(classifier.file_probabilities(x, sample_rate), classifier.labels, prior_weights)
        pred = classifier.decide(probs, top_k=top_k)
    else:
        pred = classifier.classify(x, sample_rate, top_k=top_k)
    verdicts = quality_verdicts(x, sample_rate, (species_bands or {}).get(pred.label))
    elapsed = (time.perf_counter() - t0) * 1000.0
    ranked = tuple(pred.ranked)
    alternatives = ranked[1:] if not pred.unknown else ranked
    return Identification(label=pred.label, confidence=float(pred.confidence), alternatives=alternatives,
                          verdicts=verdicts, model_version=pred.model_version, elapsed_ms=elapsed)


def quality_verdicts(x: np.ndarray, sample_rate: int, band: tuple[float, float] | None) -> tuple[Verdict, ...]:
    report = check_quality(x, sample_rate, band=tuple(band) if band else None)
    verdicts = [Verdict(i.code, VERDICT_TEXT.get(i.code, i.code), i.message, i.severity) for i in report.issues]
    if report.passed:
        speech = detect_speech(x, sample_rate)
        if speech.has_speech:
            severity = "reject" if speech.speech_fraction > 0.8 else "warn"
            verdicts.append(Verdict("speech_detected", VERDICT_TEXT["speech_detected"],
                                    f"Human speech in {speech.speech_fraction:.0%} of the segment; it is muted "
                                    "before anyone hears it." if severity == "warn" else
                                    "The segment is mostly speech; choose the part with the animal.", severity))
    return tuple(verdicts)


def display_name(label: str, pack: dict[str, dict]) -> str:
    if label == UNKNOWN:
        return "Unknown"
    entry = pack.get(label) or {}
    return str(entry.get("common_name") or label.replace("_", " ").capitalize())

"""The server's verdict on one recording: the field model, the verifier where it is installed, the prior.

One function, :func:`server_verdict`, decides; the analysis task (``server/recordings/analysis.py``) and
``python -m ml evaluate --pipeline server`` both call it, so what is evaluated is what the server decides.

**Combination** (:func:`combine`, pure numpy): over the union of the two models' labels (the field model's
order first), a log-linear pool

    s(c) = field_weight * log p_field(c) + verifier_weight * log p_verifier(c) + prior_weight * log w(c)

with probabilities floored at :data:`FLOOR`, a label one model lacks given that model's uniform
``log(1 / n_labels)``, ``w`` the location/date prior's weight (:mod:`ml.runtime.prior`; labels it has not
seen get its smallest weight; no prior: ``w = 1``); the verdict's probabilities are ``softmax(s)`` and its
answer is "unknown" when the top probability is below the threshold of the top label (``label_thresholds``,
else ``unknown_threshold``). The weights (the temperature is folded into them) and the thresholds are a
:class:`Combination`, fitted on out-of-fold predictions by :func:`fit_combination` (weights by NLL on a grid,
each group of labels -- e.g. one manifest's: birds, city sounds -- weighing the same in total; thresholds per
group: the highest coverage whose answered files are at least 90 % right) and stored in the verifier's file
(``header["combination"]``).

**Without a verifier** the field model decides alone: its own calibrated probabilities, times the prior
when one is given.

**The gate** (:class:`Gate`, pure; fitted by :func:`fit_gate`, stored as ``header["combination"]["gate"]``):
the verifier is skipped, and the field model decides alone as above, when the field model is the one the gate
was fitted for (its ``model_version``), its calibrated top probability is at least ``threshold`` and its top
label is one of ``labels`` (those on which, among the fitting files answered that confidently, the field model
alone was right at least as often as the full verdict). A field model the gate was not fitted for never skips.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from ml.runtime.classifier import Classifier, Prediction
from ml.runtime.model_format import NO_TARGET
from ml.verifier import coverage_threshold, prediction_of, softmax

FLOOR = 1e-6
TARGET_ACCURACY = 0.9
FIELD_WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
VERIFIER_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


GATE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
GATE_MIN_FILES = 3  # fitting files a label needs (answered at or above the threshold) to join the gate


@dataclass(frozen=True)
class Gate:
    """When the verifier cannot change the outcome enough to be run (see the module docstring).

    The default gate never skips. ``field_version`` "" matches any field model (CV folds)."""

    threshold: float = 1.0
    labels: tuple = ()  # none: never skips
    field_version: str = ""
    fitted_on: dict = field(default_factory=dict, compare=False)  # report only

    def skips(self, field_version: str, field_labels: Sequence[str], field_probs: np.ndarray) -> bool:
        """True when the field model's answer stands without the verifier."""
        if not self.labels or (self.field_version and self.field_version != field_version):
            return False
        p = np.asarray(field_probs, dtype=np.float64)
        top = int(np.argmax(p))
        return bool(p[top] >= self.threshold and field_labels[top] in set(self.labels))

    @classmethod
    def from_dict(cls, d: dict | None) -> "Gate":
        d = dict(d or {})
        if not d.get("labels"):
            return cls()
        try:
            threshold = float(d["threshold"])
            labels = tuple(str(lab) for lab in d.get("labels") or ())
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"invalid gate {d!r}") from None
        if not (0.0 <= threshold <= 1.0):
            raise ValueError(f"invalid gate {d!r}")
        return cls(threshold, labels, str(d.get("field_version") or ""), dict(d.get("fitted_on") or {}))

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "labels": list(self.labels), "field_version": self.field_version,
                "fitted_on": self.fitted_on}


def fit_gate(field_labels: Sequence[str], field_probs: np.ndarray, verdict_correct: Sequence[bool],
             y: Sequence[str], max_drop: float = 0.01, field_version: str = "",
             thresholds: Sequence[float] = GATE_THRESHOLDS) -> Gate:
    """The gate skipping the most fitting files whose accuracy stays within ``max_drop / 2`` of the full verdict's.

    ``field_probs`` (n, len(field_labels)) are the field model's calibrated file probabilities, ``verdict_correct``
    whether the full verdict's arg-max was right, ``y`` the true labels (any label: one the field model lacks
    makes its answer wrong). For each threshold, a label joins when at least :data:`GATE_MIN_FILES` files were
    answered with it at or above the threshold and the field model was right on at least as many of them as the
    verdict; half the allowed drop is kept as a margin for unseen files. No threshold qualifying: a gate that
    never skips."""
    p = np.atleast_2d(np.asarray(field_probs, dtype=np.float64))
    conf, top = p.max(axis=1), p.argmax(axis=1)
    answer = np.array([field_labels[j] for j in top])
    field_right = answer == np.asarray(list(y))
    verdict_right = np.asarray(verdict_correct, dtype=bool)
    base = float(verdict_right.mean()) if len(verdict_right) else 0.0
    best = Gate(fitted_on={"files": int(len(y)), "verdict_accuracy": round(base, 4), "skipped": 0.0})
    best_skip = 0.0
    for t in thresholds:
        sure = conf >= t
        labels = tuple(sorted(lab for lab in set(answer[sure].tolist())
                              if np.sum(sure & (answer == lab)) >= GATE_MIN_FILES
                              and np.sum(field_right[sure & (answer == lab)]) >= np.sum(verdict_right[sure & (answer == lab)])))
        skipped = sure & np.isin(answer, labels)
        acc = float(np.mean(np.where(skipped, field_right, verdict_right))) if len(y) else 0.0
        if skipped.mean() > best_skip and acc >= base - max_drop / 2:
            best_skip = float(skipped.mean())
            best = Gate(float(t), labels, field_version,
                        {"files": int(len(y)), "verdict_accuracy": round(base, 4), "gated_accuracy": round(acc, 4),
                         "skipped": round(best_skip, 4)})
    return best


@dataclass(frozen=True)
class Combination:
    """How the verdict pools the two models (see the module docstring)."""

    field_weight: float = 1.0
    verifier_weight: float = 1.0
    prior_weight: float = 0.0
    unknown_threshold: float = 0.0
    label_thresholds: dict = field(default_factory=dict)  # label -> its own unknown threshold
    gate: dict = field(default_factory=dict)  # Gate.to_dict(): when the verifier is skipped ({}: never)
    fitted_on: dict = field(default_factory=dict, compare=False)  # what it was fitted on (report only)

    def threshold_of(self, label: str) -> float:
        return float(self.label_thresholds.get(label, self.unknown_threshold))

    @classmethod
    def from_dict(cls, d: dict | None) -> "Combination":
        d = dict(d or {})
        try:
            values = {k: float(d[k]) for k in ("field_weight", "verifier_weight", "prior_weight",
                                              "unknown_threshold") if k in d}
        except (TypeError, ValueError):
            raise ValueError(f"invalid combination {d!r}") from None
        try:
            per_label = {str(k): float(v) for k, v in dict(d.get("label_thresholds") or {}).items()}
        except (TypeError, ValueError):
            raise ValueError(f"invalid combination {d!r}") from None
        thresholds = [values.get("unknown_threshold", 0.0), *per_label.values()]
        if not all(np.isfinite(v) and v >= 0 for v in [*values.values(), *thresholds]) or max(thresholds) > 1:
            raise ValueError(f"invalid combination {d!r}")
        gate = Gate.from_dict(d.get("gate")).to_dict() if d.get("gate") else {}
        return cls(**values, label_thresholds=per_label, gate=gate, fitted_on=dict(d.get("fitted_on") or {}))

    def to_dict(self) -> dict:
        return asdict(self)


def union_labels(field_labels: Sequence[str], verifier_labels: Sequence[str]) -> list[str]:
    """The labels a verdict may answer: the field model's, then the verifier's it lacks; never
    :data:`~ml.runtime.model_format.NO_TARGET` (a field model's "no target sound" class is no answer, and the
    verifier, which lacks it, would otherwise leave it its uniform share)."""
    seen = set(field_labels)
    return [lab for lab in [*field_labels, *(v for v in verifier_labels if v not in seen)] if lab != NO_TARGET]


def _log_over(labels: Sequence[str], own_labels: Sequence[str], probs: np.ndarray) -> np.ndarray:
    """(n, len(labels)) log-probabilities of a model over ``labels`` (its uniform log where it lacks one)."""
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    index = {lab: i for i, lab in enumerate(own_labels)}
    out = np.full((len(p), len(labels)), np.log(1.0 / len(own_labels)))
    for j, lab in enumerate(labels):
        if lab in index:
            out[:, j] = np.log(np.maximum(p[:, index[lab]], FLOOR))
    return out


def _log_prior(labels: Sequence[str], weights: dict[str, float] | None) -> np.ndarray:
    if not weights:
        return np.zeros(len(labels))
    floor = min(weights.values())
    return np.log(np.maximum([weights.get(lab, floor) for lab in labels], FLOOR))


def combine(labels: Sequence[str], field_labels: Sequence[str], field_probs: np.ndarray,
            verifier_labels: Sequence[str], verifier_probs: np.ndarray, combination: Combination,
            prior: dict[str, float] | None = None) -> np.ndarray:
    """(len(labels),) verdict probabilities (or (n, len(labels)) for stacked inputs); see the module docstring."""
    s = (combination.field_weight * _log_over(labels, field_labels, field_probs)
         + combination.verifier_weight * _log_over(labels, verifier_labels, verifier_probs)
         + combination.prior_weight * _log_prior(labels, prior))
    out = softmax(s)
    return out[0] if np.ndim(field_probs) == 1 else out


def fit_combination(labels: Sequence[str], field_labels: Sequence[str], field_probs: np.ndarray,
                    verifier_labels: Sequence[str], verifier_probs: np.ndarray, y: Sequence[str],
                    priors: Sequence[dict | None] | None = None, target: float = TARGET_ACCURACY,
                    label_groups: Sequence[Sequence[str]] | None = None) -> Combination:
    """The grid weights minimising the NLL of the true labels ``y``, then the coverage thresholds.

    With ``label_groups`` (disjoint label sets), each group's files weigh the same in total in the NLL, and each
    group gets its own threshold (``label_thresholds``, from the files whose *answer* is in the group); without,
    one threshold for all."""
    labels = list(labels)
    idx = np.array([labels.index(lab) for lab in y])
    groups = [list(g) for g in (label_groups or [labels])]
    group_of = {lab: k for k, g in enumerate(groups) for lab in g}
    file_group = np.array([group_of.get(lab, -1) for lab in y])
    sizes = {k: max(1, int(np.sum(file_group == k))) for k in set(file_group.tolist())}
    weight = np.array([1.0 / sizes[k] for k in file_group])
    weight = weight / weight.sum()
    lf = _log_over(labels, field_labels, field_probs)
    lv = _log_over(labels, verifier_labels, verifier_probs)
    lp = np.stack([_log_prior(labels, p) for p in priors]) if priors else np.zeros_like(lf)
    best = None
    for pw in (PRIOR_WEIGHTS if priors else (0.0,)):
        for fw in FIELD_WEIGHTS:
            for vw in VERIFIER_WEIGHTS:
                if fw == vw == 0:
                    continue
                p = softmax(fw * lf + vw * lv + pw * lp)
                nll = float(-np.sum(weight * np.log(np.maximum(p[np.arange(len(idx)), idx], 1e-12))))
                if best is None or nll < best[0] - 1e-9:
                    best = (nll, fw, vw, pw, p)
    nll, fw, vw, pw, p = best
    top = p.argmax(axis=1)
    threshold = coverage_threshold(p.max(axis=1), top == idx, target)
    per_label = {}
    if label_groups:
        answered_group = np.array([group_of.get(labels[j], -1) for j in top])
        for k, g in enumerate(groups):
            m = answered_group == k
            t = coverage_threshold(p.max(axis=1)[m], (top == idx)[m], target) if m.any() else threshold
            per_label.update({lab: t for lab in g})
    return Combination(fw, vw, pw, threshold, per_label, {"files": len(idx), "nll": round(nll, 4)})


@dataclass(frozen=True)
class Verdict:
    """The server's answer (``prediction``) and each model's own answer (``answers``: ``field``, and
    ``verifier`` when it ran), all as :class:`Prediction`."""

    prediction: Prediction
    probabilities: dict[str, float]
    answers: dict[str, Prediction]


def server_verdict(samples: np.ndarray, sample_rate: int, field_model: Classifier, verifier=None, *,
                   verifier_audio: tuple[np.ndarray, int] | Callable[[], tuple[np.ndarray, int]] | None = None, prior: dict[str, float] | None = None,
                   top_k: int = 5) -> Verdict:
    """The verdict on mono ``samples`` (the marked segment) at ``sample_rate``; see the module docstring.

    ``verifier`` is a :class:`ml.verifier.Verifier` or None; ``verifier_audio`` the same segment decoded at the
    verifier's own rate (48 kHz: a 24-kHz decode has nothing above 12 kHz), or a function giving it (called only
    when the verifier runs), else ``samples`` is resampled.
    The verdict's ``model_version`` names both models (``field+verifier``) when the verifier took part; when the
    combination's gate skips it (or there is none) the field model decides alone and ``answers`` holds ``field`` only.
    """
    field_probs = field_model.file_probabilities(samples, sample_rate)
    field_answer = field_model.decide(field_probs, top_k=top_k)
    comb = Combination.from_dict(verifier.combination) if verifier is not None else None
    if comb is None or Gate.from_dict(comb.gate).skips(field_model.version, field_model.labels, field_probs):
        labels = list(field_model.labels)
        probs = np.asarray(field_probs, dtype=np.float64)
        if prior:
            probs = combine(labels, labels, probs, labels, np.full(len(labels), 1.0 / len(labels)),
                            Combination(1.0, 0.0, 1.0), prior)
        pred = field_model.decide(probs, top_k=top_k)
        return Verdict(pred, dict(zip(labels, map(float, probs))), {"field": field_answer})
    audio = verifier_audio() if callable(verifier_audio) else verifier_audio
    v_probs = verifier.file_probabilities(*(audio or (samples, sample_rate)))
    labels = union_labels(field_model.labels, verifier.labels)
    probs = combine(labels, field_model.labels, field_probs, verifier.labels, v_probs, comb, prior)
    top = labels[int(np.argmax(probs))]
    pred = prediction_of(labels, probs, comb.threshold_of(top), f"{field_model.version}+{verifier.version}", top_k)
    return Verdict(pred, dict(zip(labels, map(float, probs))),
                   {"field": field_answer, "verifier": verifier.decide(v_probs, top_k)})

"""Classification metrics shared by training reports and ``python -m ml evaluate`` (numpy only)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    if not len(y_true):
        return float("nan")
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))


def top_k_accuracy(y_true: Sequence[str], ranked: Sequence[Sequence[str]], k: int) -> float:
    """Share of items whose true label is among the first ``k`` of its ranked labels."""
    if not len(y_true):
        return float("nan")
    return float(np.mean([t in list(r)[:k] for t, r in zip(y_true, ranked, strict=True)]))


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str] | None = None) -> float:
    """Unweighted mean F1 over ``classes`` (default: the labels present in ``y_true``).

    Predictions outside ``classes`` (another data set's label, "unknown") count as misses.
    """
    y_true, y_pred = list(y_true), list(y_pred)
    classes = sorted(set(y_true)) if classes is None else list(classes)
    if not classes:
        return float("nan")
    scores = []
    for c in classes:
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred) if t == c and p != c)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width confidence bins: sum_b |acc_b - conf_b| * n_b / n."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return float("nan")
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += abs(hit[sel].mean() - conf[sel].mean()) * sel.sum()
    return float(total / conf.size)


def summarise(y_true: Sequence[str], ranked: Sequence[Sequence[str]], confidence: Sequence[float],
              classes: Sequence[str] | None = None, unknown: Sequence[bool] | None = None) -> dict:
    """The standard report: n, accuracy, top-3, macro-F1, ECE (and unknown rate when given).

    ``ranked`` holds each item's labels best first; accuracy scores the first one (the arg-max,
    whether or not it fell below the unknown threshold).
    """
    y_pred = [r[0] for r in ranked]
    correct = [t == p for t, p in zip(y_true, y_pred)]
    report = {
        "n": len(y_true),
        "accuracy": accuracy(y_true, y_pred),
        "top3_accuracy": top_k_accuracy(y_true, ranked, 3),
        "macro_f1": macro_f1(y_true, y_pred, classes),
        "ece": expected_calibration_error(confidence, correct),
    }
    if unknown is not None:
        unknown = np.asarray(unknown, dtype=bool)
        report["unknown_rate"] = float(unknown.mean()) if unknown.size else float("nan")
        kept = ~unknown
        report["accuracy_when_known"] = float(np.mean(np.asarray(correct)[kept])) if kept.any() else float("nan")
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in report.items()}

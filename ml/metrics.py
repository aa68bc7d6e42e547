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


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE over ``n_bins`` equal-width bins of [0, 1] (10, as issue #3 specifies):
    sum_b |acc_b - conf_b| * n_b / n, the arg-max against the label; a confidence of 1.0 falls in the last bin."""
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


def calibrated_ece_spread(confidence: Sequence[float], draws: int = 2000, seed: int = 0) -> dict:
    """The ECE a *perfectly calibrated* model with these confidences would show on this many files: each
    file is right with probability equal to its confidence (seeded Monte Carlo). Returns mean, p5, p95 and
    the share of draws at or below 0.05 -- the sampling noise any measured ECE on the same files carries."""
    conf = np.asarray(confidence, dtype=np.float64)
    if conf.size == 0:
        return {"mean": float("nan"), "p5": float("nan"), "p95": float("nan"), "share_le_0.05": float("nan")}
    rng = np.random.default_rng(seed)
    sims = np.array([expected_calibration_error(conf, rng.random(conf.size) < conf) for _ in range(draws)])
    return {"mean": round(float(sims.mean()), 4), "p5": round(float(np.percentile(sims, 5)), 4),
            "p95": round(float(np.percentile(sims, 95)), 4), "share_le_0.05": round(float((sims <= 0.05).mean()), 4)}


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

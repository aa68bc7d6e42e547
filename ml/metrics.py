"""Classification metrics shared by training reports, ``evaluate``, ``bench-classifier`` and ``cv`` (pure
functions on numpy arrays; :func:`mean_interval` takes its t quantile from scipy)."""
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
    """ECE over ``n_bins`` equal-width bins of [0, 1] (10 by default):
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


def selective_accuracy(confidence: Sequence[float], correct: Sequence[bool], coverage: float = 0.9) -> float:
    """Accuracy on the ``ceil(coverage * n)`` most confident items (the answered ones when a model abstains
    on the rest). Ties in confidence keep the items' order. NaN for no items."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    if conf.size == 0:
        return float("nan")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage}")
    k = int(np.ceil(coverage * conf.size - 1e-9))
    order = np.argsort(-conf, kind="stable")[:k]
    return float(hit[order].mean())


def mean_interval(scores: Sequence[float], level: float = 0.95, test_train_ratio: float | None = None,
                  bounds: tuple[float, float] | None = (0.0, 1.0)) -> dict:
    """Mean of per-fold scores and a two-sided Student-t interval at ``level``.

    Without ``test_train_ratio`` the interval is the plain one, ``mean +- t(n-1) * sd / sqrt(n)``. With it
    (n_test / n_train of a fold) the variance is Nadeau and Bengio's (2003) correction for resampled folds
    whose training sets overlap, ``sd^2 * (1/n + n_test/n_train)``, which is what repeated k-fold
    cross-validation needs. ``sd`` is the sample standard deviation (ddof 1). The interval is clipped to
    ``bounds`` (a score's range; None: no clipping). NaN scores are dropped; with fewer than two scores the
    bounds are NaN.
    """
    from scipy.stats import t as student_t

    x = np.asarray([v for v in scores if v == v], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "sd": float("nan"), "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "low": float("nan"), "high": float("nan"), "sd": float("nan"), "n": n}
    sd = float(x.std(ddof=1))
    var_factor = 1.0 / n + (test_train_ratio or 0.0)
    half = float(student_t.ppf(0.5 + level / 2, n - 1)) * sd * float(np.sqrt(var_factor))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": mean, "low": low, "high": high, "sd": sd, "n": n}


def confusion_table(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str],
                    unknown: Sequence[bool] | None = None) -> dict:
    """Per-species confusion of arg-max predictions: ``{"labels", "matrix", "per_label"}``.

    ``matrix[i][j]`` counts items of ``labels[i]`` predicted as ``labels[j]``; a last column counts
    predictions outside ``labels``. ``per_label`` gives each label's n, recall, precision, F1 and, when
    ``unknown`` is given, how many of its items the model left unanswered (below its threshold).
    """
    labels = list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels) + 1), dtype=np.int64)
    abstained = np.zeros(len(labels), dtype=np.int64)
    unk = [False] * len(y_true) if unknown is None else list(unknown)
    for t, p, u in zip(y_true, y_pred, unk, strict=True):
        if t not in index:
            continue
        m[index[t], index.get(p, len(labels))] += 1
        abstained[index[t]] += bool(u)
    per_label = {}
    for i, lab in enumerate(labels):
        n, tp, predicted = int(m[i].sum()), int(m[i, i]), int(m[:, i].sum())
        recall = tp / n if n else float("nan")
        precision = tp / predicted if predicted else float("nan")
        f1 = 2 * tp / (n + predicted) if n + predicted else float("nan")
        entry = {"n": n, "recall": recall, "precision": precision, "f1": f1}
        if unknown is not None:
            entry["unknown"] = int(abstained[i])
        per_label[lab] = entry
    return {"labels": labels, "columns": labels + ["(other)"], "matrix": m.tolist(), "per_label": per_label}

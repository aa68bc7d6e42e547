"""Repeated, stratified, grouped k-fold cross-validation with model selection nested in the training folds.

Contract of :func:`run_cv`:

* **Outer folds** (:func:`outer_folds`): ``repeats`` times, a stratified k-fold split grouped by recording
  (or by recordist): scikit-learn's ``StratifiedGroupKFold`` with ``shuffle`` and the seed ``seed + repeat``.
  No group is ever in both the training and the test part of a fold; each repeat tests every file once.
* **Nested selection** (:func:`inner_split`): the learner gets the fold's training indices only, cut into a
  fit part and a validation part by one more stratified grouped split. Everything a learner chooses
  (temperature, unknown threshold, generations, epochs, hyper-parameters) it chooses on that validation
  part. The outer test indices reach the fitted model once, through :meth:`Fitted.predict`.
* **Scores per fold**: accuracy (arg-max, answered or not), macro-F1 over the labels present in the test
  fold, ECE (10 equal-width bins, :func:`ml.metrics.expected_calibration_error`), unknown rate (top
  probability below the threshold chosen on validation) and selective accuracy (accuracy on the 90 % most
  confident test files). Each is summarised by its mean and a 95 % Student-t interval over the
  ``repeats x folds`` scores with Nadeau and Bengio's variance correction for overlapping training sets
  (:func:`ml.metrics.mean_interval`). ECE is also *pooled*: computed once over every out-of-fold
  prediction of every repeat. The per-species confusion table is pooled the same way.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from ml import metrics

METRICS = ("accuracy", "macro_f1", "ece", "unknown_rate", "selective_accuracy_90")
GROUP_BY = ("recording", "recordist")
INTERVAL = ("95 % Student-t interval over the repeats x folds scores, variance corrected for overlapping "
            "training sets (Nadeau & Bengio 2003: sd^2 * (1/n + n_test/n_train))")


class CVError(ValueError):
    """Cross-validation cannot run on this input; the message is shown to the user (exit status 2)."""


@dataclass(frozen=True)
class Fold:
    """One outer fold: indices into the item list."""

    repeat: int
    index: int
    train: np.ndarray
    test: np.ndarray


class Fitted(Protocol):
    """A model fitted on one fold's fit part and calibrated on its validation part."""

    unknown_threshold: float
    selection: dict  # what was chosen on the validation part (for the report)

    def predict(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), n_labels) file probabilities, columns in the learner's label order."""


class Learner(Protocol):
    """Trains one model per fold. It sees item indices only: the fit and validation parts it is given."""

    labels: list[str]

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> Fitted: ...


def _stratified_group_splits(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int):
    from sklearn.model_selection import StratifiedGroupKFold

    with warnings.catch_warnings():  # "the least populated class has only N members": expected, reported below
        warnings.simplefilter("ignore", UserWarning)
        return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
                    .split(np.zeros(len(y)), y, groups))


def outer_folds(labels: Sequence[str], groups: Sequence[str], n_folds: int, repeats: int, seed: int) -> list[Fold]:
    """``repeats x n_folds`` grouped, stratified folds; the same arguments give the same folds."""
    y, g = np.asarray(labels), np.asarray(groups)
    if n_folds < 2:
        raise CVError(f"--folds must be at least 2, got {n_folds}.")
    if repeats < 1:
        raise CVError(f"--repeats must be at least 1, got {repeats}.")
    n_groups = len(set(g.tolist()))
    if n_groups < n_folds:
        raise CVError(f"{n_groups} groups cannot fill {n_folds} folds; use fewer folds or more recordings.")
    if max(np.unique(y, return_counts=True)[1]) < n_folds:
        raise CVError(f"No label has {n_folds} files to stratify {n_folds} folds; use fewer folds.")
    return [Fold(r, k, np.sort(tr), np.sort(te))
            for r in range(repeats)
            for k, (tr, te) in enumerate(_stratified_group_splits(y, g, n_folds, seed + r))]


def inner_split(labels: Sequence[str], groups: Sequence[str], train_idx: np.ndarray, seed: int,
                n_splits: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices: one stratified grouped split of ``train_idx`` (about 1/``n_splits`` of its
    groups validate). Both are subsets of ``train_idx`` and share no group."""
    train_idx = np.asarray(train_idx)
    y, g = np.asarray(labels)[train_idx], np.asarray(groups)[train_idx]
    unique_groups = sorted(set(g.tolist()))
    if len(unique_groups) < 2:
        raise CVError("A training fold holds a single group: nothing is left to validate on.")
    n = min(n_splits, len(unique_groups))
    if max(np.unique(y, return_counts=True)[1]) >= n:
        fit, val = _stratified_group_splits(y, g, n, seed)[0]
    else:  # every label has fewer files than splits: stratifying is impossible, split the groups alone
        rng = np.random.default_rng(seed)
        held = set(rng.permutation(unique_groups)[: max(1, len(unique_groups) // n)].tolist())
        val_mask = np.array([v in held for v in g.tolist()])
        fit, val = np.flatnonzero(~val_mask), np.flatnonzero(val_mask)
    return np.sort(train_idx[fit]), np.sort(train_idx[val])


def fold_scores(y_true: Sequence[str], probs: np.ndarray, labels: Sequence[str], threshold: float) -> dict:
    """The per-fold metrics of :data:`METRICS` for file probabilities ``probs`` (columns = ``labels``)."""
    pred = [labels[j] for j in probs.argmax(axis=1)]
    conf = probs.max(axis=1)
    correct = np.array([t == p for t, p in zip(y_true, pred)])
    return {"accuracy": metrics.accuracy(y_true, pred),
            "macro_f1": metrics.macro_f1(y_true, pred, sorted(set(y_true))),
            "ece": metrics.expected_calibration_error(conf, correct),
            "unknown_rate": float(np.mean(conf < threshold)),
            "selective_accuracy_90": metrics.selective_accuracy(conf, correct, 0.9)}


@dataclass
class CVResult:
    """Everything :func:`run_cv` measured; :meth:`summary` is the JSON report."""

    labels: list[str]
    folds: list[dict] = field(default_factory=list)
    y_true: list[str] = field(default_factory=list)  # pooled out-of-fold predictions, every repeat
    y_pred: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    unknown: list[bool] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        ratio = float(np.mean([f["n_test"] / f["n_train"] for f in self.folds])) if self.folds else None
        correct = [t == p for t, p in zip(self.y_true, self.y_pred)]
        return {
            "interval": INTERVAL,
            "metrics": {m: _rounded(metrics.mean_interval([f[m] for f in self.folds], test_train_ratio=ratio))
                        for m in METRICS},
            "ece_pooled": round(metrics.expected_calibration_error(self.confidence, correct), 4),
            "confusion": _rounded(metrics.confusion_table(self.y_true, self.y_pred, self.labels, self.unknown)),
            "folds": [_rounded(f) for f in self.folds],
            "seconds": round(self.seconds, 1),
        }


def _rounded(obj):
    if isinstance(obj, float):
        return None if obj != obj else round(obj, 4)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def run_cv(labels: Sequence[str], groups: Sequence[str], learner: Learner, folds: Sequence[Fold], seed: int,
           log: Callable[[str], None] = lambda line: None) -> CVResult:
    """Fit, select and calibrate ``learner`` inside each fold's training part; score it once on the test part."""
    t0 = time.perf_counter()
    y = list(labels)
    result = CVResult(labels=list(learner.labels))
    for fold in folds:
        fit_idx, val_idx = inner_split(y, groups, fold.train, seed + 1000 * fold.repeat + fold.index)
        fitted = learner.fit(fit_idx, val_idx, seed + fold.repeat)
        probs = fitted.predict(fold.test)
        y_test = [y[i] for i in fold.test]
        scores = fold_scores(y_test, probs, result.labels, fitted.unknown_threshold)
        fit_labels = {y[i] for i in fit_idx}
        result.folds.append({"repeat": fold.repeat, "fold": fold.index, "n_train": int(len(fold.train)),
                             "n_fit": int(len(fit_idx)), "n_val": int(len(val_idx)), "n_test": int(len(fold.test)),
                             "test_files_of_labels_unseen_in_fit": sum(lab not in fit_labels for lab in y_test),
                             **scores, "selection": fitted.selection})
        conf = probs.max(axis=1)
        result.y_true += y_test
        result.y_pred += [result.labels[j] for j in probs.argmax(axis=1)]
        result.confidence += conf.tolist()
        result.unknown += (conf < fitted.unknown_threshold).tolist()
        log(f"repeat {fold.repeat} fold {fold.index}: " + ", ".join(f"{m} {scores[m]:.3f}" for m in METRICS))
    result.seconds = time.perf_counter() - t0
    return result


def format_table(summary: dict) -> str:
    """The human table: each metric's mean and interval, then the pooled per-species confusion."""
    lines = ["| metric | mean | 95 % interval | sd | folds |", "|---|---|---|---|---|"]
    for m, s in summary["metrics"].items():
        lines.append(f"| {m} | {_cell(s['mean'], 3)} | {_cell(s['low'], 3)}–{_cell(s['high'], 3)} | "
                     f"{_cell(s['sd'], 3)} | {s['n']} |")
    lines.append(f"| ece_pooled | {summary['ece_pooled']:.3f} | | | |")
    conf = summary["confusion"]
    lines += ["", "| species | n | recall | precision | F1 | unknown | most often taken for |",
              "|---|---|---|---|---|---|---|"]
    cols = conf["columns"]
    for i, lab in enumerate(conf["labels"]):
        row, e = conf["matrix"][i], conf["per_label"][lab]
        others = sorted(((c, cols[j]) for j, c in enumerate(row) if j != i and c), reverse=True)[:3]
        taken = ", ".join(f"{name} ({c})" for c, name in others)
        lines.append(f"| {lab} | {e['n']} | {_cell(e['recall'], 2)} | {_cell(e['precision'], 2)} | "
                     f"{_cell(e['f1'], 2)} | {e.get('unknown', '')} | {taken} |")
    return "\n".join(lines)


def _cell(v: float | None, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}f}"

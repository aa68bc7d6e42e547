"""``python -m ml train-verifier``: fit the server's verifier head and its combination with the field model.

1. BirdNET's window logits of every readable file (cached in ``var/cache/birdnet/``); unreadable files are
   reported and left out.
2. :func:`ml.verifier.fit_head` on every file (labels: the manifests' union; BirdNET's column of each label it
   names from the ``scientific`` column or the common name), which also gives out-of-fold verifier
   probabilities (the probe cross-fitted by recording).
3. Out-of-fold field probabilities from a field model recipe (``field_recipe``: ``field``, :mod:`ml.field`, the
   default field model's recipe with :data:`SHIPPED_FIELD_CONFIG`; or ``baseline``, :mod:`ml.baseline`),
   cross-fitted over the same number of recording folds (fold ``f``'s training seeded ``seed + f``); the
   location/date prior of a file with ``lat``/``lng`` is built from the other folds' files.
4. :func:`ml.verdict.fit_combination` on those out-of-fold outputs; the combination goes into the head's file
   (``header["combination"]``) with the out-of-fold scores it reached.

Raises :class:`ml.manifest.ManifestError` (unusable manifests, a single class) and
:class:`ml.teachers.birdnet.TeacherUnavailable` (no ``teachers`` extra); both are exit status 2 in the CLI.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ml import metrics
from ml.field import FieldConfig
from ml.manifest import ManifestError, read_manifests

FIELD_RECIPES = ("field", "baseline")
SHIPPED_FIELD_CONFIG = FieldConfig(epochs=20, windows_per_epoch=6000, threads=1)  # fixtures/models/field.npz's


def _folds(groups: Sequence[str], k: int, seed: int) -> np.ndarray:
    uniq = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {uniq[j]: n % k for n, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def manifest_label_groups(manifests: Sequence[str | Path], label_column: str | None, labels: Sequence[str]
                          ) -> list[list[str]]:
    """Each manifest's labels among ``labels``, disjoint (a label belongs to the first manifest naming it)."""
    from ml.manifest import read_manifest

    groups, seen = [], set()
    for m in manifests:
        own = sorted({r.label for r in read_manifest(m, label_column, min_classes=1).rows} & set(labels) - seen)
        seen |= set(own)
        if own:
            groups.append(own)
    return groups


def _scores(labels: list[str], probs: np.ndarray, y: Sequence[str], threshold: float) -> dict:
    from ml.cv import fold_scores

    return {k: round(float(v), 4) for k, v in fold_scores(list(y), probs, labels, threshold).items()}


def train_verifier(manifests: Sequence[str | Path], out: str | Path, *, label_column: str | None = None,
                   version: str | None = None, seed: int = 20261206, folds: int = 3, workers: int = 1,
                   cache_dir: Path | None = None, field_recipe: str = "field", field_config: FieldConfig | None = None,
                   log: Callable[[str], None] = lambda line: None) -> dict:
    """Fit and write the verifier head (``out``); returns the report (see the module docstring).

    ``field_config`` (``field`` recipe only) defaults to :data:`SHIPPED_FIELD_CONFIG`."""
    from ml import cv_models
    from ml.verdict import combine, fit_combination
    from ml.verifier import fit_head, save_head

    if field_recipe not in FIELD_RECIPES:
        raise ValueError(f"unknown field recipe {field_recipe!r}; choose from {', '.join(FIELD_RECIPES)}")
    field_config = field_config or SHIPPED_FIELD_CONFIG
    table = read_manifests(manifests, label_column)
    all_rows = list(table.rows)
    f_ok, skipped, state = cv_models.prepare(field_recipe, all_rows, workers, cache_dir, log,
                                             field_config=field_config)
    windows, w_err = cv_models.birdnet_windows(all_rows, log)
    in_field = set(f_ok)
    ok = [i for i in f_ok if windows[i] is not None and len(windows[i])]
    skipped += [{"file": str(all_rows[i].path), "code": e[0], "message": e[1]}
                for i, e in enumerate(w_err) if e and i in in_field]
    for s in skipped:
        log(f"warning: {s['file']}: skipped ({s['code']}: {s['message']})")
    rows = [all_rows[i] for i in ok]
    windows = [windows[i] for i in ok]
    labels = sorted({r.label for r in rows})
    if len(labels) < 2:
        raise ManifestError("Training the verifier needs at least two label classes among the readable files.")
    y = [r.label for r in rows]
    groups = [r.recording for r in rows]
    columns = cv_models.birdnet_label_columns(rows)
    head, v_oof = fit_head(windows, y, groups, labels, columns, seed=seed, cross_fit=folds, log=log)

    field = cv_models.make_learner(field_recipe, all_rows, f_ok, state, None, log, field_config=field_config)
    at = {i: n for n, i in enumerate(f_ok)}
    learner_idx = np.array([at[i] for i in ok])  # row n of ``rows`` is the learner's item learner_idx[n]
    columns_of_labels = [list(field.labels).index(lab) for lab in labels]
    fold = _folds(groups, folds, seed + 1)
    f_oof = np.zeros((len(rows), len(labels)))
    priors: list[dict | None] = [None] * len(rows)
    for f in range(folds):
        test, train = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        rng = np.random.default_rng(seed + f)
        perm = rng.permutation(train)
        fit_part, val_part = np.sort(perm[: int(0.8 * len(perm))]), np.sort(perm[int(0.8 * len(perm)):])
        fitted = field.fit(learner_idx[fit_part], learner_idx[val_part], seed + f)
        f_oof[test] = fitted.predict(learner_idx[test])[:, columns_of_labels]
        for i in test:
            priors[i] = cv_models.prior_of(rows, train, i)
        log(f"field recipe ({field_recipe}): cross-fit {f + 1}/{folds}")
    use_prior = any(p for p in priors)
    label_groups = manifest_label_groups(manifests, label_column, labels)
    comb = fit_combination(labels, labels, f_oof, labels, v_oof, y, priors if use_prior else None,
                           label_groups=label_groups if len(label_groups) > 1 else None)
    combined = combine(labels, labels, f_oof, labels, v_oof, comb)
    if use_prior:
        combined = np.stack([combine(labels, labels, f_oof[i], labels, v_oof[i], comb, priors[i])
                             for i in range(len(rows))])
    conf = combined.max(axis=1)
    answered = np.array([labels[j] for j in combined.argmax(axis=1)])
    correct = answered == np.array(y)
    unknown = conf < np.array([comb.threshold_of(lab) for lab in answered])
    per_group = {}
    for g in label_groups:
        m = np.isin(np.array(y), g)
        per_group[f"{len(g)} labels ({g[0]}, ...)"] = {
            "files": int(m.sum()), "accuracy": round(float(correct[m].mean()), 4),
            "unknown_rate": round(float(unknown[m].mean()), 4),
            "accuracy_answered": round(float(correct[m & ~unknown].mean()), 4) if (m & ~unknown).any() else None,
            "ece_10_bins": round(metrics.expected_calibration_error(conf[m], correct[m]), 4)}
    report = {
        "command": "train-verifier", "manifests": [str(m) for m in manifests], "n_files": len(rows),
        "labels": labels, "birdnet_columns": columns, "skipped": skipped, "cross_fit_folds": folds, "seed": seed,
        "field_recipe": field_recipe,
        **({"field_config": asdict(field_config)} if field_recipe == "field" else {}),
        "out_of_fold": {
            "verifier": _scores(labels, v_oof, y, head.unknown_threshold),
            "field_recipe": _scores(labels, f_oof, y, 0.0),
            "server": {**_scores(labels, combined, y, comb.unknown_threshold),
                       "unknown_rate": round(float(unknown.mean()), 4),
                       "ece_10_bins": round(metrics.expected_calibration_error(conf, correct), 4)},
            "server_per_manifest": per_group,
        },
        "combination": comb.to_dict(),
        "head": {"known_scale": head.known_scale, "known_bias": head.known_bias, "probe_scale": head.probe_scale,
                 "probe_bias": head.probe_bias, "unknown_threshold": head.unknown_threshold},
    }
    version = version or f"verifier-birdnet-{datetime.now(timezone.utc):%Y.%m}-{field_recipe}-s{seed}"
    report["bytes"] = save_head(out, head, version=version, metrics=report["out_of_fold"],
                                training={k: report[k] for k in ("manifests", "n_files", "cross_fit_folds", "seed",
                                                                 "field_recipe")},
                                combination=comb.to_dict())
    report["out"], report["model_version"] = str(out), version
    return report

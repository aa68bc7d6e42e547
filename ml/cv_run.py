"""``python -m ml cv`` end to end: read the manifests, drop unreadable files, fold, train per fold, report.

:func:`cross_validate` raises :class:`ml.manifest.ManifestError` for unusable manifests (also when the
readable files leave fewer than two classes) and :class:`ml.cv.CVError` when the folds cannot be made;
both mean exit status 2 in the CLI. Unreadable files are listed under ``skipped`` and left out.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

from ml import cv, cv_models
from ml.manifest import ManifestError, read_manifests


def cross_validate(manifests: Sequence[str | Path], *, label_column: str | None = None, kind: str = "baseline",
                   group_by: str = "recording", folds: int = 5, repeats: int = 5, seed: int = 20261206,
                   options: cv_models.PhinetOptions | None = None,
                   server_options: cv_models.ServerOptions | None = None, field_config=None, workers: int = 2,
                   cache_dir: Path | None = None, log: Callable[[str], None] = lambda line: None) -> dict:
    """The JSON report of ``python -m ml cv`` (see :mod:`ml.cv` for what is measured and how)."""
    if group_by not in cv.GROUP_BY:
        raise cv.CVError(f"group_by must be one of {', '.join(cv.GROUP_BY)}, got {group_by!r}.")
    table = read_manifests(manifests, label_column)
    rows = list(table.rows)
    ok, skipped, state = cv_models.prepare(kind, rows, workers, cache_dir, log, options, field_config)
    for s in skipped:
        log(f"warning: {s['file']}: skipped ({s['code']}: {s['message']})")
    kept = [rows[i] for i in ok]
    if not kept:
        raise ManifestError("No file of the manifest could be read.")
    labels = [r.label for r in kept]
    if len(set(labels)) < 2:
        raise ManifestError(f"After skipping unreadable files a single label class is left ({labels[0]!r}); "
                            "cross-validation needs at least two.")
    if group_by == "recordist":
        groups = [r.recordist or f"recording:{r.recording}" for r in kept]
        if any(not r.recordist for r in kept):
            log(f"warning: {sum(not r.recordist for r in kept)} files name no recordist; each is its own group")
    else:
        groups = [r.recording for r in kept]
    outer = cv.outer_folds(labels, groups, folds, repeats, seed)
    learner = cv_models.make_learner(kind, rows, ok, state, options, log, server_options, field_config)
    result = cv.run_cv(labels, groups, learner, outer, seed, log)
    groups_per_label = {lab: len({g for g, y in zip(groups, labels) if y == lab}) for lab in sorted(set(labels))}
    report = {"command": "cv", "manifests": [str(m) for m in manifests], "label_column": table.label_column,
              "model_kind": kind, "group_by": group_by, "n_folds": folds, "n_repeats": repeats, "seed": seed,
              "n_files": len(kept), "n_groups": len(set(groups)), "labels": learner.labels,
              "labels_with_fewer_groups_than_folds": {k: v for k, v in groups_per_label.items() if v < folds},
              "skipped": skipped, **result.summary()}
    if kind == "phinet":
        report["phinet_options"] = asdict(options or cv_models.PhinetOptions())
    if len(manifests) > 1:
        report["per_manifest"] = per_manifest_scores(manifests, label_column, result)
    if kind == "field":
        from ml.field import FieldConfig

        report["field_config"] = asdict(field_config or FieldConfig())
    if kind in ("verifier", "server"):
        report["server_options"] = asdict(server_options or cv_models.ServerOptions())
    return report


def per_manifest_scores(manifests: Sequence[str | Path], label_column: str | None, result: cv.CVResult) -> dict:
    """Per manifest (its labels: those no earlier manifest names), pooled over every out-of-fold prediction:
    files, accuracy, unknown rate and ECE (10 bins)."""
    import numpy as np

    from ml import metrics
    from ml.verifier_train import manifest_label_groups

    y_true, y_pred = np.array(result.y_true), np.array(result.y_pred)
    conf, unknown = np.array(result.confidence), np.array(result.unknown, dtype=bool)
    out = {}
    for m, labels in zip(manifests, manifest_label_groups(manifests, label_column, result.labels)):
        sel = np.isin(y_true, labels)
        if not sel.any():
            continue
        correct = y_true[sel] == y_pred[sel]
        out[str(m)] = {"labels": len(labels), "predictions": int(sel.sum()),
                       "accuracy": round(float(correct.mean()), 4),
                       "unknown_rate": round(float(unknown[sel].mean()), 4),
                       "ece_pooled": round(metrics.expected_calibration_error(conf[sel], correct), 4)}
    return out

"""BirdNET as an evaluated model, and ``python -m ml bench-classifier`` (students vs BirdNET).

BirdNET file predictions: the mean over a file's 3-s windows (our 1.5-s hop grid) of BirdNET's
sigmoid scores, restricted to the labels it knows among the manifest's (matched by English or
scientific name); the prediction is the arg-max and the confidence its mean score. Window
scores come from the cache in ``var/cache/birdnet/`` when present; ``ms_per_window`` is always
measured live (median of single-window runs on real audio, one thread).

The benchmark uses, per set, the held-out *test* recordings of the students' seeded split
(birds: 20 % of each species' recordings, split by recording with the training seed; urban:
fold 3, the students having trained on folds 1-2), so every model sees the same files. Each student
gets them decoded at its own sample rate by the decoder, as in training and in the server's analysis.

One split of 39 files is too small to decide between models, so for birds the benchmark also reports
the cross-validated figures of the shipped default's recipe (``python -m ml cv``, baseline kind,
recording- and recordist-grouped; ``cv_repeats`` 0 skips them). A PhiNet student is retrained 25 times
by a 5 x 5 CV, too costly for a benchmark: ``cv_commands`` gives the command that measures it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ml import metrics
from ml.runtime.audio import AudioError, decode
from ml.runtime.classifier import MODELS_DIR, load_classifier
from ml.runtime.features import window_starts
from ml.threads import one_thread

SETS = ("birds", "urban")


class BenchError(RuntimeError):
    """The benchmark cannot run (data or models missing)."""


def _scientific(rows) -> dict[str, str]:
    """Label -> scientific name, from the manifest rows' ``scientific`` column (empty when absent)."""
    return {r.label: r.meta.get("scientific", "") for r in rows}


def birdnet_file_scores(files: list[Path], labels: list[str], scientific: dict[str, str] | None = None
                        ) -> tuple[list[np.ndarray | None], list[int], list[str], list[dict], float]:
    """Per file (n_known,) mean sigmoid scores over the labels BirdNET knows (None: unreadable).

    Returns (scores, windows per file, known labels in order, errors, live ms per window).
    """
    from ml.teachers.birdnet import SAMPLE_RATE, BirdNET, cached_file_logits, sigmoid

    model = BirdNET()
    index = model.index_of(labels, scientific)
    known = [lab for lab in labels if lab in index]
    cols = [index[lab] for lab in known]
    scores, windows, errors, live = [], [], [], []
    for path in files:
        try:
            logits = cached_file_logits(model, path)
            if len(live) < 3:  # time real windows live, whatever the cache holds
                samples, _ = decode(path.read_bytes(), sample_rate=SAMPLE_RATE)
                live.append(model.time_per_window(samples, repeats=3))
        except AudioError as exc:
            scores.append(None)
            windows.append(0)
            errors.append({"file": str(path), "code": exc.code, "message": exc.message})
            continue
        except OSError as exc:
            scores.append(None)
            windows.append(0)
            errors.append({"file": str(path), "code": "file_unreadable", "message": str(exc)})
            continue
        scores.append(sigmoid(logits[:, cols]).mean(axis=0) if cols else np.zeros(0))
        windows.append(len(logits))
    return scores, windows, known, errors, 1000 * float(np.median(live)) if live else float("nan")


def _summary(y_true: list[str], probs: list[np.ndarray], labels: list[str], classes: list[str]) -> dict:
    """n, accuracy, top-3, macro-F1 over ``classes``, 10-bin ECE of file-level probabilities, and the ECE a
    perfectly calibrated model with the same confidences would show on these files (its sampling noise)."""
    ranked = [[labels[i] for i in np.argsort(-p, kind="stable")] if p.size else ["unknown"] for p in probs]
    conf = np.array([float(p.max()) if p.size else 0.0 for p in probs])
    rep = metrics.summarise(y_true, ranked, conf, classes)
    rep["ece_if_calibrated"] = metrics.calibrated_ece_spread(conf)
    return rep


def evaluate_birdnet(manifest: Path, label_column: str | None = None, limit: int | None = None) -> dict:
    """``python -m ml evaluate --teacher birdnet``: the same keys as a runtime model's evaluation.

    ``ms_per_file`` is ``ms_per_window`` times the mean number of windows per file.
    """
    from ml.manifest import read_manifest
    from ml.teachers.birdnet import BirdNET

    table = read_manifest(manifest, label_column)
    label_column, rows = table.label_column, list(table.rows)
    if limit:
        rows = rows[:limit]
    truth = sorted({r.label for r in rows})
    files = [r.path for r in rows]
    scores, windows, known, errors, ms_window = birdnet_file_scores(files, truth, _scientific(rows))
    ok = [i for i, sc in enumerate(scores) if sc is not None]
    y = [rows[i].label for i in ok]
    rep = _summary(y, [scores[i] for i in ok], known, truth) if ok else {
        "n": 0, "accuracy": None, "macro_f1": None, "ece": None}
    mean_windows = float(np.mean([windows[i] for i in ok])) if ok else 0.0
    return {**rep, "model": "BirdNET V2.4 (FP32 tflite, ai-edge-litert)", "model_bytes": BirdNET().model_bytes,
            "ms_per_window": round(ms_window, 3), "ms_per_file": round(ms_window * mean_windows, 3) if ok else None,
            "restricted_to_labels": known, "labels_unknown_to_model": [lab for lab in truth if lab not in known],
            "manifest": str(manifest), "label_column": label_column, "n_errors": len(errors), "errors": errors[:20]}


# --- bench-classifier ----------------------------------------------------------------------------

def test_files(model_set: str, data_root: Path, seed: int) -> tuple[list[Path], list[str], dict[str, str]]:
    """The held-out test recordings of a set: (paths, labels, scientific names)."""
    import csv

    from ml.train import TrainConfig, read_items

    if model_set == "birds":
        manifest = data_root / "birds-pr" / "manifest.csv"
        if not manifest.exists():
            raise BenchError(f"{manifest} is missing.")
        items, _ = read_items(TrainConfig(manifest=str(manifest), out="", seed=seed))
        test = [it for it in items if it.split == "test"]
        return [it.path for it in test], [it.label for it in test], {it.label: it.meta.get("scientific", "") for it in test}
    manifest = data_root / "urban-us8k" / "manifest.csv"
    if not manifest.exists():
        raise BenchError(f"{manifest} is missing.")
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("fold") == "3"]
    return [manifest.parent / r["file"] for r in rows], [r["label"] for r in rows], {}


def run_runtime_model(path: Path, decoded: list[tuple[np.ndarray, int] | None], y: list[str],
                      classes: list[str]) -> dict:
    """Metrics and single-thread timings of a runtime model on already decoded files."""
    clf = load_classifier(path)
    if not any(d is not None for d in decoded):
        raise BenchError("none of the benchmark files could be decoded")
    allowed = (set(classes) & set(clf.labels)) or None
    probs, y_ok, t_total, n_windows = [], [], 0.0, 0
    labels = list(clf.labels)
    with one_thread():
        clf.classify(*next(d for d in decoded if d is not None), allowed=allowed)  # warm caches (filterbanks, plans)
        for item, lab in zip(decoded, y):
            if item is None:
                continue
            samples, sr = item
            t0 = time.perf_counter()
            pred = clf.classify(samples, sr, top_k=len(labels), allowed=allowed)
            t_total += time.perf_counter() - t0
            n_windows += len(window_starts(round(samples.size * clf.feature_params.sample_rate / sr), clf.feature_params))
            p = np.zeros(len(labels))
            for name, prob in pred.ranked:
                p[labels.index(name)] = prob
            probs.append(p)
            y_ok.append(lab)
    rep = _summary(y_ok, probs, labels, classes)
    arch = clf.header["architecture"]
    return {**rep, "model": path.name, "model_version": clf.version, "model_bytes": path.stat().st_size,
            "parameters": arch.get("parameters"), "ms_per_window": round(1000 * t_total / max(1, n_windows), 3),
            "ms_per_file": round(1000 * t_total / max(1, len(y_ok)), 3), "windows": n_windows,
            "labels_unknown_to_model": sorted(set(classes) - set(clf.labels))}


def _decode_or_none(path: Path, sample_rate: int) -> tuple[np.ndarray, int] | None:
    try:
        return decode(path.read_bytes(), sample_rate=sample_rate)
    except (AudioError, OSError):
        return None


def _table(rows: list[dict], title: str) -> str:
    cols = ["model", "n", "accuracy", "macro_f1", "ece", "ece_if_calibrated", "model_bytes", "parameters",
            "ms_per_window", "ms_per_file"]
    lines = [title, " | ".join(cols), " | ".join("---" for _ in cols)]

    def cell(r: dict, c: str) -> str:
        v = r.get(c)
        if isinstance(v, dict):  # the calibrated-ECE spread: mean (p5-p95)
            return f"{v['mean']} ({v['p5']}-{v['p95']})"
        return "" if v is None else str(v)

    for r in rows:
        lines.append(" | ".join(cell(r, c) for c in cols))
    return "\n".join(lines)


def xnor_targets(rows: list[dict], model_set: str) -> dict:
    """The XNOR twin's targets from the benchmark rows of ``{set}.npz`` and ``{set}-xnor.npz``: at most
    5 points below its full-precision twin, and at least 8x smaller than that twin's weights at 4 bytes
    each (as XNOR-Net counts); the ratio to the shipped float16 file is given too. Empty without both."""
    fp = next((r for r in rows if r["model"] == f"{model_set}.npz"), None)
    xn = next((r for r in rows if r["model"] == f"{model_set}-xnor.npz"), None)
    if not (fp and xn):
        return {}
    gap = fp["accuracy"] - xn["accuracy"]
    vs_fp32 = 4 * fp["parameters"] / xn["model_bytes"]
    return {"xnor_accuracy_gap": round(gap, 4), "xnor_within_5_points": gap <= 0.05,
            "xnor_size_ratio_vs_fp32_weights": round(vs_fp32, 2), "xnor_size_met (>= 8x)": vs_fp32 >= 8,
            "xnor_size_ratio_vs_shipped": round(fp["model_bytes"] / xn["model_bytes"], 2)}


CV_COMMANDS = {
    "baseline": "python -m ml cv --manifest ../shared/data/birds-pr/manifest.csv --model-kind baseline "
                "--repeats 5 --folds 5 [--group-by recordist]",
    "phinet": "python -m ml cv --manifest ../shared/data/birds-pr/manifest.csv --model-kind phinet "
              "--repeats 5 --folds 5 --epochs 60 --teacher birdnet [--group-by recordist]",
}


def cv_figures(manifest: Path, repeats: int, log: Callable[[str], None], cache_dir: Path | None = None) -> dict:
    """The baseline recipe's 5-fold CV on ``manifest``, grouped by recording and by recordist: per metric
    the mean and 95 % interval (see :mod:`ml.cv`), and the pooled ECE. Features are cached in ``cache_dir``
    (default: the baseline's cache)."""
    from ml import cv
    from ml.baseline import DEFAULT_CACHE
    from ml.cv_run import cross_validate

    out = {}
    for group_by in cv.GROUP_BY:
        report = cross_validate([manifest], kind="baseline", group_by=group_by, folds=5, repeats=repeats,
                                cache_dir=cache_dir or DEFAULT_CACHE)
        out[f"baseline_by_{group_by}"] = {"metrics": report["metrics"], "ece_pooled": report["ece_pooled"],
                                          "n_files": report["n_files"], "repeats": repeats, "folds": 5}
        log(f"\n## cv: baseline recipe, {repeats} x 5 folds grouped by {group_by} ({report['interval']})\n"
            + cv.format_table(report).split("\n\n")[0])
    return out


def bench_classifier(sets: str = "both", data_root: Path = Path("../shared/data"), seed: int = 20261121,
                     limit: int | None = None, log: Callable[[str], None] = print, cv_repeats: int = 5) -> dict:
    """Run BirdNET (birds) and the shipped students on the same held-out files, plus the baseline recipe's
    cross-validation on birds (``cv_repeats`` 0: none); return the JSON summary."""
    chosen = SETS if sets == "both" else (sets,)
    result: dict = {"benchmark": "bench-classifier", "seed": seed, "sets": {}}
    for model_set in chosen:
        files, y, scientific = test_files(model_set, data_root, seed)
        if limit:
            files, y = files[:limit], y[:limit]
        classes = sorted(set(y))
        by_rate: dict[int, list] = {}

        def decoded_for(path: Path) -> list[tuple[np.ndarray, int] | None]:
            """The files decoded at the model's own rate (the decoder resamples), as training and the
            server's analysis decode them; BirdNET's timing likewise starts from its 48 kHz samples."""
            rate = load_classifier(path).feature_params.sample_rate
            if rate not in by_rate:
                by_rate[rate] = [_decode_or_none(f, rate) for f in files]
            return by_rate[rate]

        rows = []
        for name in (f"{model_set}.npz", f"{model_set}-xnor.npz", "baseline.npz"):
            path = MODELS_DIR / name
            if path.exists():
                rows.append(run_runtime_model(path, decoded_for(path), y, classes))
        if not rows:
            raise BenchError(f"no shipped model for {model_set} in {MODELS_DIR}")
        entry: dict = {"n_files": len(files), "models": rows}
        if model_set == "birds":
            scores, _, known, _, ms_window = birdnet_file_scores(files, classes, scientific)
            ok = [i for i, sc in enumerate(scores) if sc is not None]
            known_idx = [i for i in ok if y[i] in known]
            bn_all = _summary([y[i] for i in ok], [scores[i] for i in ok], known, classes)
            bn_known = _summary([y[i] for i in known_idx], [scores[i] for i in known_idx], known, known)
            from ml.teachers.birdnet import BirdNET

            bn = {"model": "BirdNET V2.4", "model_bytes": BirdNET().model_bytes, "ms_per_window": round(ms_window, 3),
                  "parameters": None, **{k: bn_all[k] for k in ("n", "accuracy", "macro_f1", "ece", "ece_if_calibrated")},
                  "known_species": known, "known_species_files": bn_known}
            rows.append(bn)
            # students on the files of species BirdNET knows, for a like-for-like comparison
            for r in rows[:-1]:
                path = MODELS_DIR / r["model"]
                sub = run_runtime_model(path, [decoded_for(path)[i] for i in known_idx], [y[i] for i in known_idx], known)
                r["known_species_files"] = {k: sub[k] for k in ("n", "accuracy", "macro_f1", "ece")}
            best = max(rows[:-1], key=lambda r: r["accuracy"] if r["model"].startswith("birds") else -1)
            entry["targets"] = {
                "accuracy_floor (birdnet known-species accuracy - 0.05)": round(bn_known["accuracy"] - 0.05, 4),
                "best_student_accuracy_all_22": best["accuracy"],
                "accuracy_met": best["accuracy"] >= bn_known["accuracy"] - 0.05,
                "size_met (<= 500 KB)": best["model_bytes"] <= 500_000,
                "speedup_per_window": round(ms_window / best["ms_per_window"], 1),
                "speed_met (>= 10x)": ms_window / best["ms_per_window"] >= 10,
                "ece_met (<= 0.05)": best["ece"] <= 0.05,
                "ece_of_a_perfectly_calibrated_model_on_these_files": best["ece_if_calibrated"],
            }
        else:
            best = max((r for r in rows if r["model"].startswith("urban")), key=lambda r: r["accuracy"], default=rows[0])
            entry["targets"] = {"urban_accuracy": best["accuracy"], "accuracy_met (>= 0.70)": best["accuracy"] >= 0.70,
                                "parameters": best.get("parameters"),
                                "parameters_met (<= 50k)": (best.get("parameters") or 0) <= 50_000}
        entry["targets"].update(xnor_targets(rows, model_set))
        log(_table(rows, f"\n## {model_set}: {len(files)} held-out files"))
        log(json.dumps(entry["targets"]))
        if model_set == "birds":
            if cv_repeats > 0:
                entry["cv"] = cv_figures(data_root / "birds-pr" / "manifest.csv", cv_repeats, log)
            entry["cv_commands"] = CV_COMMANDS
        result["sets"][model_set] = entry
    return result

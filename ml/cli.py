"""``python -m ml``: train the baseline, classify files, evaluate a model on a manifest.

Output contracts (DESIGN.md §5):

* ``classify`` prints one JSON line per file: ``{"file", "label", "confidence", "unknown",
  "ranked": [{"label", "probability"}...], "model_version", "windows", "duration_s"}``, or
  ``{"file", "error": {"code", "message"}}`` for a file that cannot be read; the exit status
  is 1 when any file failed.
* ``evaluate`` prints one JSON object with at least ``n``, ``accuracy``, ``macro_f1``, ``ece``,
  ``model_bytes`` and ``ms_per_file`` (time to classify a decoded file, resampling included).

Exit status 2 means the command itself could not run (bad arguments, unreadable model or
manifest, teacher not available).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from ml.runtime.audio import AudioError, decode
from ml.runtime.features import window_starts

EXIT_FILE_ERRORS = 1
EXIT_USAGE = 2


def _print_json(obj: dict, stream=None) -> None:
    print(json.dumps(obj, ensure_ascii=False), file=stream or sys.stdout, flush=True)


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _load(model: str | None):
    """The classifier; a ModelFormatError propagates to :func:`main` (exit status 2)."""
    from ml.runtime.classifier import load_classifier

    return load_classifier(model)


def _read_audio(path: Path) -> tuple:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AudioError("file_not_found", f"No such file: {path}") from None
    except OSError as exc:
        raise AudioError("file_unreadable", f"Cannot read {path}: {exc.strerror or exc}") from None
    return decode(data)


# --- classify ----------------------------------------------------------------------------------

def cmd_classify(args: argparse.Namespace) -> int:
    clf = _load(args.model)
    allowed = set(args.allowed) if args.allowed else None
    failed = 0
    for name in args.files:
        path = Path(name)
        try:
            samples, sr = _read_audio(path)
            pred = clf.classify(samples, sr, top_k=args.top_k, allowed=allowed)
        except AudioError as exc:
            failed += 1
            _print_json({"file": name, **_error(exc.code, exc.message)})
            continue
        except ValueError as exc:
            failed += 1
            _print_json({"file": name, **_error("classify_failed", str(exc))})
            continue
        model_sr = clf.feature_params.sample_rate
        n_windows = len(window_starts(round(samples.size * model_sr / sr), clf.feature_params))
        _print_json({"file": name, **pred.to_dict(), "windows": n_windows, "duration_s": round(samples.size / sr, 3)})
    return EXIT_FILE_ERRORS if failed else 0


# --- evaluate ----------------------------------------------------------------------------------

def read_manifest(path: Path, label_column: str | None) -> tuple[list[dict], str]:
    """Rows of a manifest CSV and the label column used (``species``, else ``label``)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = reader.fieldnames or []
    if "file" not in columns:
        raise ValueError(f"{path} has no 'file' column.")
    if label_column is None:
        label_column = next((c for c in ("species", "label") if c in columns), None)
        if label_column is None:
            raise ValueError(f"{path} has neither a 'species' nor a 'label' column; pass --label-column.")
    elif label_column not in columns:
        raise ValueError(f"{path} has no {label_column!r} column.")
    return rows, label_column


def evaluate(manifest: Path, label_column: str | None = None, model: str | None = None,
             restrict: bool = False, limit: int | None = None) -> dict:
    """Classify every file of a manifest and summarise (see the module docstring)."""
    from ml import metrics
    from ml.runtime.classifier import default_model_path

    clf = _load(model)
    model_path = Path(model) if model else default_model_path()
    rows, label_column = read_manifest(manifest, label_column)
    if limit:
        rows = rows[:limit]
    truth_labels = sorted({r[label_column] for r in rows})
    known = set(clf.labels)
    allowed = ({lab for lab in truth_labels if lab in known} or None) if restrict else None
    y_true, ranked, confidence, unknown, errors = [], [], [], [], []
    classify_s = decode_s = audio_s = 0.0
    for row in rows:
        path = manifest.parent / row["file"]
        t0 = time.perf_counter()
        try:
            samples, sr = _read_audio(path)
        except AudioError as exc:
            errors.append({"file": row["file"], "code": exc.code, "message": exc.message})
            continue
        t1 = time.perf_counter()
        pred = clf.classify(samples, sr, top_k=len(clf.labels), allowed=allowed)
        t2 = time.perf_counter()
        decode_s += t1 - t0
        classify_s += t2 - t1
        audio_s += samples.size / sr
        y_true.append(row[label_column])
        ranked.append([lab for lab, _ in pred.ranked])
        confidence.append(pred.confidence)
        unknown.append(pred.unknown)
    n = len(y_true)
    report = metrics.summarise(y_true, ranked, confidence, truth_labels, unknown=unknown) if n else {
        "n": 0, "accuracy": None, "top3_accuracy": None, "macro_f1": None, "ece": None}
    report = {k: (None if isinstance(v, float) and v != v else v) for k, v in report.items()}  # NaN -> null
    return {
        **report,
        "model_bytes": model_path.stat().st_size,
        "model_version": clf.version,
        "ms_per_file": round(1000 * classify_s / n, 3) if n else None,
        "decode_ms_per_file": round(1000 * decode_s / n, 3) if n else None,
        "audio_seconds": round(audio_s, 1),
        "manifest": str(manifest),
        "label_column": label_column,
        "restricted_to_manifest_labels": bool(allowed),
        "labels_unknown_to_model": [lab for lab in truth_labels if lab not in known],
        "n_errors": len(errors),
        "errors": errors[:20],
    }


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.teacher:
        message = (f"Teacher {args.teacher!r} is not available in this build; "
                   "evaluate the runtime model with --model instead.")
        _print_json(_error("teacher_unavailable", message))
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    from ml.runtime.model_format import ModelFormatError

    try:
        result = evaluate(Path(args.manifest), args.label_column, args.model, args.restrict, args.limit)
    except ModelFormatError:
        raise  # reported by main() as model_invalid
    except (OSError, ValueError) as exc:
        _print_json(_error("manifest_invalid", str(exc)))
        return EXIT_USAGE
    _print_json(result)
    return 0


# --- train-baseline ------------------------------------------------------------------------------

def cmd_train_baseline(args: argparse.Namespace) -> int:
    from ml.baseline import DEFAULT_CACHE, Hyper, train_baseline

    data_root = Path(args.data_root)
    if not (data_root / "birds-pr" / "manifest.csv").exists() or not (data_root / "urban-us8k" / "manifest.csv").exists():
        _print_json(_error("data_missing", f"{data_root} lacks birds-pr/manifest.csv or urban-us8k/manifest.csv."))
        return EXIT_USAGE
    hyper = Hyper(seed=args.seed) if args.seed is not None else Hyper()
    header, arrays = train_baseline(
        data_root=data_root, out=Path(args.out), cache_dir=None if args.no_cache else Path(args.cache_dir or DEFAULT_CACHE),
        hyper=hyper, model_version=args.model_version, workers=args.workers,
        log=lambda line: print(line, file=sys.stderr, flush=True))
    _print_json({"out": args.out, "model_bytes": Path(args.out).stat().st_size,
                 "model_version": header["model_version"], "parameters": header["architecture"]["parameters"],
                 "temperature": header["temperature"], "unknown_threshold": header["unknown_threshold"],
                 "metrics": header["metrics"], "seconds": header["training"]["seconds"]})
    return 0


# --- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from ml.baseline import DEFAULT_DATA_ROOT, DEFAULT_OUT

    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train-baseline", help="train the numpy baseline on the shared data and save it")
    p.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT), help="folder holding birds-pr/ and urban-us8k/")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="model file to write")
    p.add_argument("--cache-dir", default=None, help="feature cache (default var/cache/baseline)")
    p.add_argument("--no-cache", action="store_true", help="recompute features, write no cache")
    p.add_argument("--model-version", default=None, help="version string (default baseline-YYYY.MM-1)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workers", type=int, default=2, help="decoding processes")
    p.set_defaults(func=cmd_train_baseline)

    p = sub.add_parser("classify", help="classify audio files; one JSON line per file")
    p.add_argument("--model", default=None, help="runtime model file (default: the shipped baseline)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--allowed", action="append", metavar="LABEL",
                   help="restrict to this label (repeatable); probabilities are renormalised")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("evaluate", help="evaluate a model on a manifest; prints one JSON object")
    p.add_argument("--manifest", required=True)
    p.add_argument("--label-column", default=None, help="default: 'species' if present, else 'label'")
    p.add_argument("--model", default=None, help="runtime model file (default: the shipped baseline)")
    p.add_argument("--teacher", choices=["birdnet"], default=None, help="evaluate a teacher (not in this build)")
    p.add_argument("--restrict", action="store_true",
                   help="restrict predictions to the manifest's labels known to the model")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N rows")
    p.set_defaults(func=cmd_evaluate)

    sub.add_parser("fetch-xc", add_help=False,
                   help="download recordings and a manifest from the xeno-canto API (fetch-xc --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fetch-xc"]:  # the downloader owns its options
        from ml.data import xenocanto

        return xenocanto.main(argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "top_k", 1) < 1:
        print("error: --top-k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    from ml.runtime.model_format import ModelFormatError

    try:
        return int(args.func(args) or 0)
    except ModelFormatError as exc:
        _print_json(_error("model_invalid", str(exc)))
        return EXIT_USAGE

"""``python -m ml``: train the baseline, classify files, evaluate a model on a manifest.

Output contracts (DESIGN.md §5):

* ``classify`` prints one JSON line per file: ``{"file", "label", "confidence", "unknown",
  "ranked": [{"label", "probability"}...], "model_version", "windows", "duration_s"}``, or
  ``{"file", "error": {"code", "message"}}`` for a file that cannot be read; the exit status
  is 1 when any file failed.
* ``evaluate`` prints one JSON object with at least ``n``, ``accuracy``, ``macro_f1``, ``ece``,
  ``model_bytes``, ``ms_per_file`` (time to classify a decoded file, resampling included),
  ``ms_per_window`` (one thread) and ``labels_unknown_to_model`` (their files count as errors).
  Unreadable files are listed under ``errors`` and skipped.
* ``train`` trains PhiNet students (:mod:`ml.train`); ``bench-classifier`` runs BirdNET and
  the students on the same held-out recordings (:mod:`ml.bench`).
* ``cv`` prints one JSON object (or writes it to ``--json-out``): per metric the mean and 95 % interval
  over repeats x folds (``metrics``), ``ece_pooled``, the pooled ``confusion`` table, every fold's scores
  and selections (``folds``) and the ``skipped`` unreadable files; the human table goes to stderr, or to
  stdout with ``--table`` (:mod:`ml.cv`).

Exit status 2 means the command itself could not run (bad arguments, unreadable model or
manifest, teacher not available).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Sequence

from ml.manifest import ManifestError, read_manifest
from ml.runtime.audio import AudioError, decode
from ml.runtime.features import window_starts
from ml.threads import one_thread

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


def _read_audio(path: Path, sample_rate: int) -> tuple:
    """``(samples, sample_rate)`` of a file decoded at the model's rate (the decoder resamples, as in training
    and in the server's analysis)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AudioError("file_not_found", f"No such file: {path}") from None
    except OSError as exc:
        raise AudioError("file_unreadable", f"Cannot read {path}: {exc.strerror or exc}") from None
    return decode(data, sample_rate=sample_rate)


# --- classify ----------------------------------------------------------------------------------

def cmd_classify(args: argparse.Namespace) -> int:
    from ml.runtime.classifier import default_model_path

    clf = _load(args.model or (str(default_model_path(args.set)) if args.set else None))
    allowed = set(args.allowed) if args.allowed else None
    weights = _prior_weights(args)
    if isinstance(weights, int):
        return weights
    failed = 0
    for name in args.files:
        path = Path(name)
        try:
            samples, sr = _read_audio(path, clf.feature_params.sample_rate)
            if weights is None:
                pred = clf.classify(samples, sr, top_k=args.top_k, allowed=allowed)
            else:
                from ml.runtime.prior import apply_prior

                probs = apply_prior(clf.file_probabilities(samples, sr), clf.labels, weights)
                pred = clf.decide(probs, top_k=args.top_k, allowed=allowed)
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


def _prior_weights(args: argparse.Namespace) -> dict | int | None:
    """Prior weights for ``--prior-observations`` at ``--lat/--lng/--date``; an exit code on bad input."""
    if not args.prior_observations:
        return None
    from datetime import date

    from ml.runtime.prior import SpeciesPrior

    try:
        if args.lat is None or args.lng is None:
            raise ValueError("--prior-observations needs --lat and --lng.")
        when = date.fromisoformat(args.date) if args.date else None
        with open(args.prior_observations, newline="", encoding="utf-8") as fh:
            prior = SpeciesPrior.from_records(list(csv.DictReader(fh)))
        if prior.labels.size == 0:
            raise ValueError(f"{args.prior_observations} holds no usable observations (species, lat, lng).")
        return prior.weights(args.lat, args.lng, when)
    except (OSError, ValueError, csv.Error) as exc:
        _print_json(_error("prior_invalid", str(exc)))
        return EXIT_USAGE


# --- evaluate ----------------------------------------------------------------------------------

def pick_default_model(labels: set[str]) -> Path:
    """The shipped model that knows most of ``labels``: birds, urban, then the mixed baseline."""
    from ml.runtime.classifier import DEFAULT_MODELS, default_model_path
    from ml.runtime.model_format import load_model_file

    candidates = [p for p in (DEFAULT_MODELS["birds"], DEFAULT_MODELS["urban"]) if p.exists()]
    candidates.append(default_model_path())
    best, best_cover = candidates[-1], -1
    for path in candidates:
        try:
            cover = len(labels & set(load_model_file(path)[0]["labels"]))
        except Exception:  # an unreadable shipped file is skipped here and reported if chosen later
            continue
        if cover > best_cover:
            best, best_cover = path, cover
    return best


def _summary(y_true: list[str], preds: list, truth_labels: list[str]) -> dict:
    """``metrics.summarise`` of file predictions (NaN as null; the empty report when there are none)."""
    from ml import metrics

    if not y_true:
        return {"n": 0, "accuracy": None, "top3_accuracy": None, "macro_f1": None, "ece": None}
    report = metrics.summarise(y_true, [[lab for lab, _ in p.ranked] for p in preds], [p.confidence for p in preds],
                               truth_labels, unknown=[p.unknown for p in preds])
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in report.items()}


def evaluate(manifest: Path, label_column: str | None = None, model: str | None = None,
             restrict: bool = False, limit: int | None = None) -> dict:
    """Classify every file of a manifest and summarise (see the module docstring)."""
    table = read_manifest(manifest, label_column)
    label_column, rows = table.label_column, list(table.rows)
    if limit:
        rows = rows[:limit]
    truth_labels = sorted({r.label for r in rows})
    model_path = Path(model) if model else pick_default_model(set(truth_labels))
    clf = _load(str(model_path))
    known = set(clf.labels)
    allowed = ({lab for lab in truth_labels if lab in known} or None) if restrict else None
    y_true, preds, errors = [], [], []
    classify_s = decode_s = audio_s = 0.0
    n_windows = 0
    with one_thread():
        for row in rows:
            t0 = time.perf_counter()
            try:
                samples, sr = _read_audio(row.path, clf.feature_params.sample_rate)
            except AudioError as exc:
                errors.append({"file": row.file, "code": exc.code, "message": exc.message})
                continue
            t1 = time.perf_counter()
            pred = clf.classify(samples, sr, top_k=len(clf.labels), allowed=allowed)
            t2 = time.perf_counter()
            decode_s += t1 - t0
            classify_s += t2 - t1
            audio_s += samples.size / sr
            n_windows += len(window_starts(round(samples.size * clf.feature_params.sample_rate / sr), clf.feature_params))
            y_true.append(row.label)
            preds.append(pred)
    n = len(y_true)
    report = _summary(y_true, preds, truth_labels)
    return {
        **report,
        "model": str(model_path),
        "model_bytes": model_path.stat().st_size,
        "model_version": clf.version,
        "ms_per_file": round(1000 * classify_s / n, 3) if n else None,
        "ms_per_window": round(1000 * classify_s / n_windows, 3) if n_windows else None,
        "windows": n_windows,
        "decode_ms_per_file": round(1000 * decode_s / n, 3) if n else None,
        "audio_seconds": round(audio_s, 1),
        "manifest": str(manifest),
        "label_column": label_column,
        "restricted_to_manifest_labels": bool(allowed),
        "labels_unknown_to_model": [lab for lab in truth_labels if lab not in known],
        "n_errors": len(errors),
        "errors": errors[:20],
    }


def evaluate_server_pipeline(manifest: Path, label_column: str | None = None, model: str | None = None,
                             verifier: str | None = None, limit: int | None = None) -> dict:
    """What the analysis task decides (:func:`ml.verdict.server_verdict`) on every file of a manifest, each file
    whole as the marked segment: the field model (``model``, default the server's shipped default) combined
    with the verifier (``verifier``, default the shipped head) where the ``teachers`` extra is installed."""
    from ml.runtime.classifier import default_model_path
    from ml.teachers.birdnet import SAMPLE_RATE, TeacherUnavailable
    from ml.verdict import server_verdict
    from ml.verifier import default_verifier_path, load_verifier

    table = read_manifest(manifest, label_column)
    rows = list(table.rows)[:limit] if limit else list(table.rows)
    truth_labels = sorted({r.label for r in rows})
    model_path = Path(model) if model else default_model_path()
    clf = _load(str(model_path))
    verifier_path = Path(verifier) if verifier else default_verifier_path()
    try:
        ver = load_verifier(verifier_path)
    except TeacherUnavailable:
        if verifier:
            raise
        ver = None
    known = set(clf.labels) | (set(ver.labels) if ver else set())
    y_true, preds, errors = [], [], []
    seconds, n_windows = 0.0, 0
    with one_thread():
        for row in rows:
            try:
                samples, sr = _read_audio(row.path, clf.feature_params.sample_rate)
                audio48 = _read_audio(row.path, SAMPLE_RATE) if ver else None
            except AudioError as exc:
                errors.append({"file": row.file, "code": exc.code, "message": exc.message})
                continue
            t0 = time.perf_counter()
            verdict = server_verdict(samples, sr, clf, ver, verifier_audio=audio48, top_k=len(known))
            seconds += time.perf_counter() - t0
            n_windows += len(window_starts(samples.size, clf.feature_params))
            y_true.append(row.label)
            preds.append(verdict.prediction)
    n = len(y_true)
    report = _summary(y_true, preds, truth_labels)
    return {
        **report, "pipeline": "server", "model": str(model_path), "model_version": clf.version,
        "verifier": str(verifier_path) if ver else None, "verifier_version": ver.version if ver else None,
        "model_bytes": model_path.stat().st_size + (verifier_path.stat().st_size if ver else 0),
        "ms_per_file": round(1000 * seconds / n, 3) if n else None,
        "ms_per_window": round(1000 * seconds / n_windows, 3) if n_windows else None, "windows": n_windows,
        "manifest": str(manifest), "label_column": table.label_column,
        "labels_unknown_to_model": [lab for lab in truth_labels if lab not in known],
        "n_errors": len(errors), "errors": errors[:20],
    }


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ml.runtime.model_format import ModelFormatError
    from ml.teachers.birdnet import TeacherUnavailable

    try:
        if args.pipeline == "server":
            if args.teacher:
                raise ValueError("--pipeline server and --teacher exclude each other.")
            result = evaluate_server_pipeline(Path(args.manifest), args.label_column, args.model, args.verifier,
                                              args.limit)
        elif args.teacher:
            from ml.bench import evaluate_birdnet

            result = evaluate_birdnet(Path(args.manifest), args.label_column, args.limit)
        else:
            result = evaluate(Path(args.manifest), args.label_column, args.model, args.restrict, args.limit)
    except ModelFormatError:
        raise  # reported by main() as model_invalid
    except TeacherUnavailable as exc:
        message = f"{'Teacher ' + repr(args.teacher) if args.teacher else 'The verifier'} is not available: {exc}"
        _print_json(_error("teacher_unavailable", message))
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        _print_json(_error("manifest_invalid", str(exc)))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _print_json(result)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ml.bench import BenchError, bench_classifier

    try:
        result = bench_classifier(sets=args.set, data_root=Path(args.data_root), seed=args.seed,
                                  limit=args.limit, log=lambda line: print(line, file=sys.stderr, flush=True),
                                  cv_repeats=args.cv_repeats)
    except BenchError as exc:
        _print_json(_error("bench_failed", str(exc)))
        return EXIT_USAGE
    _print_json(result)
    return 0


# --- cv ---------------------------------------------------------------------------------------------

def cmd_cv(args: argparse.Namespace) -> int:
    """Repeated grouped cross-validation with nested selection (:mod:`ml.cv_run`); exit status 2 on bad input."""
    from ml import cv, cv_models
    from ml.cv_run import cross_validate

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    options = cv_models.PhinetOptions(epochs=args.epochs, generations=args.generations, teacher=args.teacher,
                                      alpha=args.alpha, hop_length=args.hop_length)
    if args.no_cache:
        cache_dir = None
    elif args.cache_dir:
        cache_dir = Path(args.cache_dir)
    else:
        from ml.baseline import DEFAULT_CACHE

        cache_dir = DEFAULT_CACHE
    try:
        server = cv_models.ServerOptions(prior=not args.no_prior, gate=not args.no_gate)
        from ml.field import FieldConfig

        field_config = FieldConfig(epochs=args.epochs, alpha=args.alpha, hop_length=args.hop_length,
                                   windows_per_epoch=args.windows_per_epoch, lr=args.lr, kd_alpha=args.kd_alpha)
        report = cross_validate(args.manifest, label_column=args.label_column, kind=args.model_kind,
                                group_by=args.group_by, folds=args.folds, repeats=args.repeats, seed=args.seed,
                                options=options, server_options=server, field_config=field_config,
                                workers=args.workers, cache_dir=cache_dir, log=log)
    except (ManifestError, cv.CVError) as exc:
        code = "manifest_invalid" if isinstance(exc, ManifestError) else "cv_invalid"
        _print_json(_error(code, str(exc)))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = cv.format_table(report)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.table:
        print(text, flush=True)
    else:
        log(text)
        if not args.json_out:
            _print_json(report)
    return 0


# --- train-field -----------------------------------------------------------------------------------

def cmd_train_field(args: argparse.Namespace) -> int:
    """``train-field``: the field model (:mod:`ml.field`); exit status 2 on bad input or without the teachers extra."""
    from ml.cv import CVError
    from ml.field import FieldConfig, train_field
    from ml.teachers.birdnet import TeacherUnavailable

    cfg = FieldConfig(**{f.name: getattr(args, f.name) for f in fields(FieldConfig)})
    try:
        report = train_field(args.manifest, args.out, cfg, label_column=args.label_column, version=args.version,
                             workers=args.workers)
    except (ManifestError, CVError, TeacherUnavailable) as exc:
        _print_json(_error("teacher_unavailable" if isinstance(exc, TeacherUnavailable) else "manifest_invalid",
                           str(exc)))
        return EXIT_USAGE
    _print_json(report)
    return 0


# --- train-field-xnor ---------------------------------------------------------------------------------

def cmd_train_field_xnor(args: argparse.Namespace) -> int:
    """``train-field-xnor``: the XNOR twin of a field model (:mod:`ml.field_xnor`); exit status 2 on bad input."""
    from ml.cv import CVError
    from ml.field_xnor import FieldXnorConfig, FieldXnorError, train_field_xnor
    from ml.teachers.birdnet import TeacherUnavailable

    cfg = FieldXnorConfig(**{f.name: getattr(args, f.name) for f in fields(FieldXnorConfig)})
    try:
        report = train_field_xnor(getattr(args, "from"), args.manifest, args.out, cfg, label_column=args.label_column,
                                  workers=args.workers, checkpoint=args.checkpoint, report_path=args.report)
    except FieldXnorError as exc:
        _print_json(_error("model_invalid", str(exc)))
        return EXIT_USAGE
    except (ManifestError, CVError, TeacherUnavailable) as exc:
        _print_json(_error("teacher_unavailable" if isinstance(exc, TeacherUnavailable) else "manifest_invalid",
                           str(exc)))
        return EXIT_USAGE
    _print_json({k: v for k, v in report.items() if k != "skipped"} | {"skipped": len(report["skipped"])})
    return 0


# --- train-verifier ------------------------------------------------------------------------------

def cmd_train_verifier(args: argparse.Namespace) -> int:
    """Fit the server's verifier head and its combination (:mod:`ml.verifier_train`); exit status 2 on bad input."""
    from ml.baseline import DEFAULT_CACHE
    from ml.cv import CVError
    from ml.teachers.birdnet import TeacherUnavailable
    from ml.verifier_train import train_verifier

    try:
        report = train_verifier(args.manifest, args.out, label_column=args.label_column, version=args.version,
                                seed=args.seed, folds=args.folds, workers=args.workers, cache_dir=DEFAULT_CACHE,
                                field_recipe=args.field_recipe,
                                log=lambda line: print(line, file=sys.stderr, flush=True))
    except ManifestError as exc:
        _print_json(_error("manifest_invalid", str(exc)))
        return EXIT_USAGE
    except (TeacherUnavailable, CVError) as exc:  # CVError: BirdNET's logits are needed and it is not installed
        _print_json(_error("teacher_unavailable", str(exc)))
        return EXIT_USAGE
    _print_json(report)
    return 0


# --- fit-gate ------------------------------------------------------------------------------------

def cmd_fit_gate(args: argparse.Namespace) -> int:
    """Fit the verdict's gate for one field model into the verifier's file (:mod:`ml.gate_fit`); exit status 2 on
    bad input."""
    from ml.gate_fit import fit_gate_for
    from ml.runtime.model_format import ModelFormatError
    from ml.teachers.birdnet import TeacherUnavailable

    files: list[str] = []
    if args.files_of:
        import ast

        from ml.runtime.model_format import load_model_file

        header, _ = load_model_file(args.files_of)
        listed = header.get("training", {}).get("test_files", [])
        files = list(ast.literal_eval(listed) if isinstance(listed, str) else listed)
    try:
        gate = fit_gate_for(args.manifest, args.model, args.verifier, args.out or args.verifier, files=files,
                            extra=args.extra_manifest or (), label_column=args.label_column, max_drop=args.max_drop,
                            log=lambda line: print(line, file=sys.stderr, flush=True))
    except ManifestError as exc:
        _print_json(_error("manifest_invalid", str(exc)))
        return EXIT_USAGE
    except (TeacherUnavailable, ModelFormatError) as exc:
        _print_json(_error("model_invalid", str(exc)))
        return EXIT_USAGE
    _print_json(gate)
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


# --- train (students) ---------------------------------------------------------------------------

def cmd_train(args: argparse.Namespace) -> int:
    from ml.train import TrainConfig, TrainError, train

    def values(text: str | None) -> tuple[str, ...]:
        return tuple(v.strip() for v in text.split(",") if v.strip()) if text else ()

    if args.split_column and not args.train:
        _print_json(_error("invalid_arguments", "--split-column needs --train values."))
        return EXIT_USAGE
    cfg = TrainConfig(manifest=args.manifest, out=args.out, model_set=args.set, label_column=args.label_column,
                      split_column=args.split_column, train_values=values(args.train), val_values=values(args.val),
                      test_values=values(args.test), alpha=args.alpha, beta=args.beta, t0=args.t0,
                      blocks=args.blocks, embed_dim=args.embed_dim, epochs=args.epochs,
                      generations=args.generations, xnor=not args.no_xnor, xnor_epochs=args.xnor_epochs or args.epochs,
                      teacher=args.teacher, teacher_mode=args.teacher_mode, windows_per_file=args.windows_per_file,
                      background_per_file=args.background_per_file,
                      encoding=args.encoding, seed=args.seed, version=args.model_version, workers=args.workers,
                      max_files=args.max_files, hop_length=args.hop_length, lr=args.lr, kd_alpha=args.kd_alpha,
                      mixup=args.mixup, threads=args.threads, xnor_from=args.xnor_from,
                      xnor_init=args.xnor_init, xnor_depthwise=args.xnor_depthwise,
                      xnor_shortcuts=not args.no_xnor_shortcuts, xnor_teacher=args.xnor_teacher)
    try:
        report = train(cfg)
    except (TrainError, OSError) as exc:
        _print_json(_error("train_failed", str(exc)))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    summary = {k: report[k] for k in ("model", "model_version", "model_bytes", "parameters", "temperature",
                                      "unknown_threshold", "seconds")}
    summary["generations"] = [{k: g[k] for k in ("generation", "val", "test", "kept")} for g in report["generations"]]
    if "xnor" in report:
        summary["xnor"] = {k: report["xnor"][k] for k in ("model", "model_bytes", "test", "size_ratio_vs_fp32_twin",
                                                            "size_ratio_vs_fp32_weights")}
    summary["report"] = report["report"]
    _print_json(summary)
    return 0


# --- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from ml.baseline import DEFAULT_DATA_ROOT, DEFAULT_OUT
    from ml.field import FieldConfig
    from ml.train import XNOR_CHOICES, TrainConfig

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

    p = sub.add_parser("train", help="train PhiNet students (distillation, generations, XNOR twin)")
    p.add_argument("--manifest", required=True, help="CSV with 'file' and a label column")
    p.add_argument("--out", required=True, help="model file to write (report: OUT.report.json)")
    p.add_argument("--set", choices=["birds", "urban"], default="birds", help="model set named in the header")
    p.add_argument("--label-column")
    p.add_argument("--split-column", help="column naming the split (e.g. fold); default: seeded split by recording")
    p.add_argument("--train", default=None, help="comma-separated split-column values used for training")
    p.add_argument("--val", default=None, help="values used for validation (calibration, generation choice); "
                   "default: 15%% of the training recordings")
    p.add_argument("--test", default=None, help="values used for the reported test metrics")
    p.add_argument("--alpha", type=float, help="PhiNet width multiplier")
    p.add_argument("--beta", type=float, help="PhiNet shape factor")
    p.add_argument("--t0", type=float, help="PhiNet base expansion")
    p.add_argument("--blocks", type=int)
    p.add_argument("--embed-dim", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--generations", type=int, help="born-again generations")
    p.add_argument("--no-xnor", action="store_true", help="skip the XNOR binary twin")
    p.add_argument("--xnor-epochs", type=int, default=None)
    p.add_argument("--xnor-init", choices=XNOR_CHOICES["xnor_init"],
                   help="the XNOR twin's latent weights start as the best student's (default) or random")
    p.add_argument("--xnor-depthwise", choices=XNOR_CHOICES["xnor_depthwise"],
                   help="the XNOR twin's 3x3 depthwise convs: full precision (default) or binary")
    p.add_argument("--xnor-teacher", choices=XNOR_CHOICES["xnor_teacher"],
                   help="the XNOR twin's KD target: the frozen student run on each augmented batch (online, "
                        "default) or the teachers' and the student's stored window probabilities (fixed)")
    p.add_argument("--no-xnor-shortcuts", action="store_true",
                   help="no real-valued shortcut around the XNOR twin's binary 1x1 convs")
    p.add_argument("--teacher", choices=["birdnet", "birdnet-probe", "none"],
                   help="birdnet: its scores for the labels it knows; birdnet-probe: a linear probe on its "
                        "logits fitted on the training recordings (label sets BirdNET lacks, e.g. urban)")
    p.add_argument("--teacher-mode", choices=["weighted", "top1", "topk"])
    p.add_argument("--windows-per-file", type=int, help="most likely windows per training file")
    p.add_argument("--background-per-file", type=int,
                   help="least likely windows per training file, taught a uniform target")
    p.add_argument("--encoding", choices=["float16", "int8", "float32"])
    p.add_argument("--seed", type=int)
    p.add_argument("--model-version", default=None)
    p.add_argument("--workers", type=int)
    p.add_argument("--max-files", type=int, help="use a seeded subset of N files (smoke runs)")
    p.add_argument("--hop-length", type=int, help="STFT hop in samples at 24 kHz (stored in the model)")
    p.add_argument("--lr", type=float, help="peak learning rate (one-cycle)")
    p.add_argument("--kd-alpha", type=float, help="distillation weight alpha (0: labels only)")
    p.add_argument("--mixup", type=float, help="mixup Beta parameter (0: off)")
    p.add_argument("--threads", type=int, choices=[1, 2], help="torch threads (1 reproduces bit for bit)")
    p.add_argument("--xnor-from", metavar="STUDENT",
                   help="train only the XNOR twin of this full-precision student file (same data, seed and options)")
    # an option named after a TrainConfig field takes that field's default: one place to change it
    dests = {a.dest for a in p._actions}
    p.set_defaults(func=cmd_train, **{f.name: f.default for f in fields(TrainConfig)
                                      if f.name in dests and f.default is not MISSING and f.name != "xnor_epochs"})

    p = sub.add_parser("classify", help="classify audio files; one JSON line per file")
    p.add_argument("--model", default=None, help="runtime model file (default: --set's student, else the shipped baseline)")
    p.add_argument("--set", choices=["birds", "urban"], default=None, help="use this set's shipped student")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--allowed", action="append", metavar="LABEL",
                   help="restrict to this label (repeatable); probabilities are renormalised")
    p.add_argument("--prior-observations", default=None, metavar="CSV",
                   help="observations (species, lat, lng, date) for a location/date prior (optional)")
    p.add_argument("--lat", type=float, default=None)
    p.add_argument("--lng", type=float, default=None)
    p.add_argument("--date", default=None, help="ISO date of the recording, for the prior")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("evaluate", help="evaluate a model on a manifest; prints one JSON object")
    p.add_argument("--manifest", required=True)
    p.add_argument("--label-column", default=None, help="default: 'species' if present, else 'label'")
    p.add_argument("--model", default=None,
                   help="runtime model file (default: the shipped model that knows most of the manifest's labels)")
    p.add_argument("--teacher", choices=["birdnet"], default=None,
                   help="evaluate BirdNET V2.4 instead (scores restricted to the manifest's labels it knows)")
    p.add_argument("--restrict", action="store_true",
                   help="restrict predictions to the manifest's labels known to the model")
    p.add_argument("--pipeline", choices=["server"], default=None,
                   help="server: exactly what the analysis task decides (the field model, --model or the shipped "
                        "default, combined with the verifier where the teachers extra is installed)")
    p.add_argument("--verifier", default=None, help="--pipeline server: the verifier head file "
                                                     "(default fixtures/models/verifier.npz)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N rows")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("cv", help="repeated grouped k-fold cross-validation, selection nested in the training folds")
    p.add_argument("--manifest", action="append", required=True, metavar="CSV",
                   help="manifest (repeatable: e.g. the shared data plus an export_training_set manifest)")
    p.add_argument("--label-column", default=None, help="default: 'species' if present, else 'label'")
    p.add_argument("--model-kind", choices=["baseline", "phinet", "birdnet-probe", "verifier", "server", "field"],
                   default="baseline",
                   help="baseline: train-baseline's recipe; phinet: python -m ml train per fold; birdnet-probe: a "
                        "linear probe on BirdNET's window logits; verifier: the server's BirdNET head; server: the "
                        "analysis task's verdict (baseline + verifier + prior, combined); field: the field model's "
                        "recipe (ml/field.py: dense distillation of the verifier, no_target); the last four need the "
                        "teachers extra")
    p.add_argument("--no-prior", action="store_true", help="server: leave the location/date prior out")
    p.add_argument("--no-gate", action="store_true",
                   help="server: run the verifier on every file (no gate fitted on the validation part)")
    p.add_argument("--group-by", choices=["recording", "recordist"], default="recording",
                   help="what never straddles a fold's training and test parts")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--json-out", default=None, metavar="FILE", help="write the JSON report here instead of stdout")
    p.add_argument("--table", action="store_true", help="print the human table on stdout (JSON: --json-out)")
    p.add_argument("--workers", type=int, default=2, help="decoding processes")
    p.add_argument("--cache-dir", default=None, help="feature cache (default var/cache/baseline)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--epochs", type=int, default=60, help="phinet: epochs per fold")
    p.add_argument("--generations", type=int, default=1, help="phinet: born-again generations per fold")
    p.add_argument("--teacher", choices=["birdnet", "birdnet-probe", "none"], default="none", help="phinet: teacher")
    p.add_argument("--alpha", type=float, default=0.75, help="phinet: width multiplier")
    p.add_argument("--hop-length", type=int, default=640, help="phinet, field: STFT hop at 24 kHz")
    p.add_argument("--windows-per-epoch", type=int, default=6000, help="field: windows drawn per epoch")
    p.add_argument("--lr", type=float, default=3e-3, help="field: peak learning rate")
    p.add_argument("--kd-alpha", type=float, default=0.5, help="field: distillation weight")
    p.set_defaults(func=cmd_cv)

    p = sub.add_parser("train-field", help="train the field model (every label of the manifests + no_target; "
                                           "dense distillation of the verifier, ml/field.py)")
    p.add_argument("--manifest", action="append", required=True, metavar="CSV", help="manifest (repeatable)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--out", required=True, help="runtime model file to write")
    p.add_argument("--version", default=None)
    p.add_argument("--workers", type=int, default=1, help="decoding processes")
    for f in fields(FieldConfig):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    p.set_defaults(func=cmd_train_field)

    from ml.field_xnor import FieldXnorConfig

    p = sub.add_parser("train-field-xnor", help="train the XNOR twin of a field model (ml/field_xnor.py)")
    p.add_argument("--from", required=True, metavar="FIELD.npz", help="the full-precision field model")
    p.add_argument("--manifest", action="append", required=True, metavar="CSV", help="manifest (repeatable)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--out", required=True, help="runtime model file to write (the twin)")
    p.add_argument("--report", default=None, help="report JSON (default: OUT.report.json)")
    p.add_argument("--checkpoint", default=None, help="torch state of the twin: written after training; when it "
                                                      "exists, training is skipped")
    p.add_argument("--workers", type=int, default=1, help="decoding processes")
    for f in fields(FieldXnorConfig):
        kw = {"choices": ("binary", "float")} if f.name == "depthwise" else {}
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default, **kw)
    p.set_defaults(func=cmd_train_field_xnor)

    p = sub.add_parser("train-verifier", help="fit the server's verifier head (BirdNET + our labels) and its "
                                              "combination with the field model")
    p.add_argument("--manifest", action="append", required=True, metavar="CSV", help="manifest (repeatable)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--out", default="fixtures/models/verifier.npz")
    p.add_argument("--version", default=None)
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--folds", type=int, default=3, help="cross-fit folds for the out-of-fold outputs")
    p.add_argument("--workers", type=int, default=1, help="decoding processes")
    p.add_argument("--field-recipe", choices=("field", "baseline"), default="field",
                   help="the field model's recipe cross-fitted for the combination (field: ml/field.py with "
                        "fixtures/models/field.npz's settings; baseline: ml/baseline.py)")
    p.set_defaults(func=cmd_train_verifier)

    p = sub.add_parser("fit-gate", help="fit when the server's verdict may skip the verifier, for one field model")
    p.add_argument("--manifest", action="append", required=True, metavar="CSV",
                   help="manifest (repeatable); only files the field model never trained on")
    p.add_argument("--files-of", default=None, metavar="NPZ",
                   help="keep only the --manifest rows named in this model file's training.test_files")
    p.add_argument("--extra-manifest", action="append", metavar="CSV",
                   help="manifest whose every row joins the fitting files (e.g. city clips for a birds-only model)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--model", default="fixtures/models/birds.npz", help="the field model the gate is for")
    p.add_argument("--verifier", default="fixtures/models/verifier.npz")
    p.add_argument("--out", default=None, help="default: overwrite --verifier")
    p.add_argument("--max-drop", type=float, default=0.01, help="accuracy the gate may cost on the fitting files")
    p.set_defaults(func=cmd_fit_gate)

    p = sub.add_parser("bench-classifier", help="BirdNET vs the students on held-out recordings; table + JSON line")
    p.add_argument("--set", choices=["birds", "urban", "both"], default="both")
    p.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT))
    p.add_argument("--seed", type=int, default=20261121, help="split seed (the students' training seed)")
    p.add_argument("--limit", type=int, default=None, help="at most N test files per set")
    p.add_argument("--cv-repeats", type=int, default=5,
                   help="birds: repeats of the baseline recipe's 5-fold CV (by recording and by recordist); 0: skip")
    p.set_defaults(func=cmd_bench)

    sub.add_parser("fetch-xc", add_help=False,
                   help="download recordings and a manifest from the xeno-canto API (fetch-xc --help)")
    from ml.federated.cli import add_subcommands as add_federated

    add_federated(sub)  # federated-sim
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

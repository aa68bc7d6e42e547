"""The XNOR twin of an exported field model (``python -m ml train-field-xnor``; issue 25, item 8).

Contract: given a full-precision field model (a ``phinet`` runtime file with ``aggregation: "mean-target"`` and a
``no_target`` label, e.g. ``fixtures/models/field.npz``) and the manifests it was trained on,

1. **Data and split** are :mod:`ml.field`'s: the same readable files and, with the student's seed, the same
   :func:`ml.cv.inner_split` into training files and calibration files (refused when the file counts differ from
   the student's header: then the twin would calibrate on files its teacher trained on). The dense training windows
   and their label targets are :func:`ml.field.dense_set`'s, the window teacher's probe refitted on the training
   files as :func:`ml.field.fit_field` does.
2. **Twin**: the student's architecture with every 1x1 convolution, SE layer and the neck XNOR, Bi-Real shortcuts,
   and (``depthwise="binary"``, the default, which the size target needs) binary 3x3 depthwise convolutions; its
   latent weights start as the student's (restored by :func:`ml.models.phinet.from_runtime`). It is trained by
   :func:`ml.train.train_student` with the **online teacher**: the frozen student run on each augmented batch
   gives the KD target; the label term uses the field recipe's presence targets.
3. **Calibration** on the calibration files exactly as the student's (:func:`ml.field.calibrate`: temperature by
   file-level NLL and unknown threshold by right minus wrong, both through the ``mean-target`` aggregation).
4. **Export** in the compact encoding (:func:`ml.export.export_compact_twin`); the header's
   ``training.twin_of`` names the student's version, file name and sha256.
5. **Report** (JSON, beside ``--report`` or ``OUT.report.json``): for the twin **and** the student, loaded with
   :func:`ml.runtime.classifier.load_classifier` and run by the numpy runtime on the decoded calibration files:
   accuracy, macro-F1, ECE, unknown rate per manifest; bytes per part, file bytes and the ratio to the student's
   parameters at 4 bytes each.

A ``--checkpoint`` file keeps the trained twin's torch state: when it exists, training is skipped and only
calibration, export and the report run (e.g. to export with other quantisation levels).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ml.field import AGGREGATION, FieldConfig
from ml.runtime.classifier import NO_TARGET

SIZE_FACTOR = 16  # issue 25: the twin at least 16x smaller than the student's weights at 4 bytes each


class FieldXnorError(ValueError):
    """Input that cannot make a field twin (the CLI answers exit status 2 with the message)."""


@dataclass(frozen=True)
class FieldXnorConfig:
    """Hyper-parameters of the twin; an epoch is one pass's worth of draws over the dense training windows."""

    epochs: int = 100
    batch_size: int = 48
    lr: float = 3e-3
    weight_decay: float = 1e-3
    kd_alpha: float = 0.5
    kd_temperature: float = 2.0
    mixup: float = 0.2
    depthwise: str = "binary"  # "binary" or "float" (the 3x3 depthwise convs)
    # compact export: candidate int8 levels "HEADxBIASESxALPHAS", see choose_levels
    levels: str = "127x127x127,31x63x15,15x63x15,7x63x15,15x63x7,7x63x7,7x127x7,15x31x15,7x31x15,7x31x7"
    seed: int = 20261206
    threads: int = 1


def size_ratio(n_parameters: int, file_bytes: int) -> float:
    """How many times smaller ``file_bytes`` is than ``n_parameters`` float32 weights, rounded down to 0.01 (so a
    ratio shown as 16.0 is at least 16)."""
    if n_parameters <= 0 or file_bytes <= 0:
        raise ValueError("parameters and bytes must be positive.")
    return (400 * n_parameters // file_bytes) / 100


def size_limit(n_parameters: int, factor: int = SIZE_FACTOR) -> int:
    """The largest file (bytes) that is at least ``factor`` times smaller than the float32 weights."""
    return (4 * n_parameters) // factor


@dataclass(frozen=True)
class Student:
    """The full-precision field model the twin is made from."""

    path: Path
    clf: object  # ml.runtime.phinet_model.PhiNetClassifier
    sha256: str
    config: FieldConfig  # its recorded recipe (seed, probe windows, hop)
    fit_files: int
    val_files: int

    @property
    def input_scale(self) -> float:
        return float(self.clf.header["architecture"]["input"]["scale"])

    @property
    def parameters(self) -> int:
        return int(self.clf.header["architecture"]["parameters"])


def load_student(path: str | Path) -> Student:
    """The full-precision field model at ``path``; :class:`FieldXnorError` for anything else."""
    from ml.runtime.classifier import load_classifier
    from ml.runtime.model_format import ModelFormatError, file_sha256

    path = Path(path)
    if not path.is_file():
        raise FieldXnorError(f"--from: {path} does not exist.")
    try:
        clf = load_classifier(path)
    except ModelFormatError as exc:
        raise FieldXnorError(f"--from: {exc}") from None
    header = clf.header
    if clf.architecture != "phinet" or header["architecture"].get("config", {}).get("binary"):
        raise FieldXnorError(f"--from: {path} is not a full-precision phinet model.")
    if header.get("aggregation") != AGGREGATION or NO_TARGET not in clf.labels or clf.labels[-1] != NO_TARGET:
        raise FieldXnorError(f"--from: {path} is not a field model (aggregation {AGGREGATION!r} and a last "
                             f"{NO_TARGET!r} label).")
    training = header.get("training") or {}
    known = {k: v for k, v in (training.get("config") or {}).items() if k in FieldConfig.__dataclass_fields__}
    if not known or "fit_files" not in training or "val_files" not in training:
        raise FieldXnorError(f"--from: {path} does not record its field recipe (training.config, fit/val files).")
    return Student(path, clf, file_sha256(path), FieldConfig(**known), int(training["fit_files"]),
                   int(training["val_files"]))


def twin_model(student: Student, depthwise: str):
    """(the student as a frozen torch PhiNet, its XNOR twin initialised with the student's weights)."""
    from ml.models.phinet import PhiNet, from_runtime

    if depthwise not in ("binary", "float"):
        raise FieldXnorError(f"depthwise must be 'binary' or 'float', got {depthwise!r}.")
    teacher = from_runtime(student.clf).eval()
    cfg = replace(teacher.cfg, binary=True, binary_depthwise=depthwise == "binary", binary_shortcuts=True)
    twin = PhiNet(cfg, len(student.clf.labels))
    twin.load_state_dict(teacher.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, twin


def train_twin(student: Student, teacher, twin, train, cfg: FieldXnorConfig, log: Callable[[str], None]):
    """``twin`` trained on the dense set ``train`` (:class:`ml.field.DenseSet`) with ``teacher`` online."""
    from ml.train import Split, TrainConfig, train_student

    split = Split(x=train.x, y=train.y.astype(np.int64), teacher=np.zeros((len(train.y), 0), np.float32), files=[],
                  soft=train.label_targets.astype(np.float32), background=np.zeros(len(train.y), bool))
    tcfg = TrainConfig(manifest="", out="", batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                       kd_alpha=cfg.kd_alpha, kd_temperature=cfg.kd_temperature, mixup=cfg.mixup, seed=cfg.seed,
                       threads=cfg.threads)
    steps = cfg.epochs * -(-len(train.y) // cfg.batch_size)
    log(f"field-xnor: {len(train.y)} windows, {cfg.epochs} epochs = {steps} steps")
    t0 = time.perf_counter()
    model = train_student(twin.cfg, split, [], [], len(student.clf.labels), tcfg, student.input_scale, cfg.epochs,
                          cfg.seed + 100, "field-xnor", init=twin, online_teacher=teacher)
    log(f"field-xnor: trained in {time.perf_counter() - t0:.0f} s")
    return model, steps


# --- the compact export: how many quantisation levels ---------------------------------------------------

def parse_levels(text: str) -> list[tuple[int, int, int]]:
    """``"31x63x15,7x31x7"`` -> ``[(31, 63, 15), (7, 31, 7)]`` (head, biases, alphas); :class:`FieldXnorError` for
    anything else."""
    out = []
    for part in text.split(","):
        try:
            head, bias, alpha = (int(v) for v in part.strip().split("x"))
        except ValueError:
            raise FieldXnorError(f"--levels: {part.strip()!r} is not HEADxBIASESxALPHAS (e.g. 7x63x7).") from None
        if not all(1 <= v <= 127 for v in (head, bias, alpha)):
            raise FieldXnorError(f"--levels: {part.strip()!r}: levels are 1-127.")
        out.append((head, bias, alpha))
    if not out:
        raise FieldXnorError("--levels names no candidate.")
    return out


def window_agreement(path: str | Path, twin, x: np.ndarray) -> float:
    """Share of the windows ``x`` (normalised network input, (n, 1, mels, frames)) on which the runtime file at
    ``path`` (numpy, quantised weights) and the torch ``twin`` (float latent head, biases and alphas) agree on the
    top label: what the quantisation costs, measured without any label."""
    import torch

    from ml.runtime.classifier import load_classifier

    clf = load_classifier(path)
    head = clf.head()
    emb = clf.embeddings_from_input(np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    with torch.no_grad():
        ref = np.concatenate([twin(torch.from_numpy(x[i: i + 256])).numpy() for i in range(0, len(x), 256)])
    return float(np.mean((emb @ head["weight"] + head["bias"]).argmax(axis=1) == ref.argmax(axis=1)))


def choose_levels(twin, candidates: Sequence[tuple[int, int, int]], x: np.ndarray, limit: int, export: Callable
                  ) -> tuple[tuple[int, int, int], list[dict]]:
    """The candidate (head, bias, alpha) levels whose file fits ``limit`` bytes with the highest
    :func:`window_agreement` on ``x`` (the first listed on a tie); when none fits, the smallest file. ``export(path,
    head, bias, alpha) -> (bytes, parts)`` writes a candidate. Returns (choice, one row per candidate)."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for levels in candidates:
            path = Path(tmp) / "levels-{}x{}x{}.npz".format(*levels)
            size, _ = export(path, *levels)
            rows.append({"levels": list(levels), "bytes": size, "fits": size <= limit,
                         "window_agreement": round(window_agreement(path, twin, x), 4)})
    fitting = [r for r in rows if r["fits"]]
    best = max(fitting, key=lambda r: r["window_agreement"]) if fitting else min(rows, key=lambda r: r["bytes"])
    return tuple(best["levels"]), rows


# --- evaluation through the numpy runtime ------------------------------------------------------------

def runtime_scores(model_path: str | Path, decoded: Sequence[tuple[np.ndarray, int]], y_true: Sequence[str],
                   groups: Sequence[str]) -> dict:
    """Per group (manifest) and over all files: :func:`ml.cv.fold_scores` of the runtime file at ``model_path`` on
    the decoded files (its own temperature, aggregation and unknown threshold) and the file count."""
    from ml.runtime.classifier import load_classifier

    clf = load_classifier(model_path)
    probs = np.array([clf.file_probabilities(s, sr) for s, sr in decoded])
    return grouped_scores(probs, list(clf.labels), clf.unknown_threshold, y_true, groups)


def grouped_scores(probs: np.ndarray, labels: Sequence[str], threshold: float, y_true: Sequence[str],
                   groups: Sequence[str]) -> dict:
    """Per group and over all files (``"all"``): the file count and :func:`ml.cv.fold_scores` of ``probs``."""
    from ml.cv import fold_scores

    out = {}
    for name in sorted(set(groups)) + ["all"]:
        sel = np.array([name == "all" or g == name for g in groups])
        scores = fold_scores([t for t, k in zip(y_true, sel) if k], probs[sel], list(labels), threshold)
        out[name] = {"n": int(sel.sum()), **{k: round(float(v), 4) for k, v in scores.items()}}
    return out


def decode_files(paths: Sequence[Path], sample_rate: int) -> list[tuple[np.ndarray, int] | None]:
    """The runtime's decoding of each file at ``sample_rate`` (None where it fails)."""
    from ml.runtime.audio import AudioError, decode

    out = []
    for p in paths:
        try:
            out.append(decode(Path(p).read_bytes(), sample_rate=sample_rate))
        except (AudioError, OSError):
            out.append(None)
    return out


# --- the command ----------------------------------------------------------------------------------

def _manifest_of_rows(manifests: Sequence[str | Path], label_column: str | None) -> list[str]:
    """The manifest folder name (e.g. ``birds-pr``) of every row of :func:`ml.manifest.read_manifests`."""
    from ml.manifest import read_manifest

    names = []
    for m in manifests:
        names += [Path(m).parent.name or str(m)] * len(read_manifest(m, label_column, min_classes=1).rows)
    return names


def train_field_xnor(student_path: str | Path, manifests: Sequence[str | Path], out: str | Path, cfg: FieldXnorConfig,
                     *, label_column: str | None = None, workers: int = 1, checkpoint: str | Path | None = None,
                     report_path: str | Path | None = None,
                     log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """``python -m ml train-field-xnor`` (module docstring); returns the report, also written to ``report_path``
    (default ``OUT.report.json``)."""
    import torch

    from ml.cv import inner_split
    from ml.export import export_compact_twin
    from ml.field import calibrate, dense_set, file_probabilities, fit_teacher, load_field_data
    from ml.manifest import read_manifests
    from ml.models.phinet import count_parameters
    from ml.train import normalise, window_logits

    student = load_student(student_path)
    candidate_levels = parse_levels(cfg.levels)
    if cfg.seed != student.config.seed:
        raise FieldXnorError(f"--seed {cfg.seed} differs from the student's {student.config.seed}: the twin must "
                             "calibrate on the student's calibration files.")
    torch.set_num_threads(max(1, min(2, cfg.threads)))
    t_start = time.perf_counter()
    rows = list(read_manifests(manifests, label_column).rows)
    where = _manifest_of_rows(manifests, label_column)
    data, ok, skipped = load_field_data(rows, student.config.hop_length, workers, log)
    if data.params != student.clf.feature_params or list(data.labels) + [NO_TARGET] != list(student.clf.labels):
        raise FieldXnorError(f"--from: {student.path}'s labels or feature parameters differ from the manifests'.")
    fit_idx, val_idx = inner_split(data.labels_of_files, [rows[i].recording for i in ok], np.arange(len(ok)), cfg.seed)
    if (len(fit_idx), len(val_idx)) != (student.fit_files, student.val_files):
        raise FieldXnorError(f"the split gives {len(fit_idx)}/{len(val_idx)} training/calibration files, the student "
                             f"recorded {student.fit_files}/{student.val_files}: not the data it was trained on.")
    teacher, twin = twin_model(student, cfg.depthwise)
    steps = None
    if checkpoint is not None and Path(checkpoint).is_file():
        twin.load_state_dict(torch.load(checkpoint, weights_only=True))
        twin.eval()
        log(f"field-xnor: twin restored from {checkpoint}; training skipped")
    else:
        window_teacher = fit_teacher(data, fit_idx.tolist(), student.config)
        train = dense_set(data, fit_idx.tolist(), window_teacher)
        twin, steps = train_twin(student, teacher, twin, train, cfg, log)
        if checkpoint is not None:
            Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
            torch.save(twin.state_dict(), checkpoint)
    temperature, threshold = calibrate(twin, data, val_idx.tolist(), student.input_scale)
    version = f"{student.clf.version}-xnor"
    parameters = count_parameters(twin)
    training = {"recipe": "field-xnor-twin (online teacher)", "epochs": cfg.epochs, "steps": steps,
                "twin_of": {"model_version": student.clf.version, "file": student.path.name, "sha256": student.sha256},
                "fit_files": int(len(fit_idx)), "val_files": int(len(val_idx))}

    def export(path, head_levels: int, bias_levels: int, alpha_levels: int) -> tuple[int, dict]:
        return export_compact_twin(twin, path, head_levels=head_levels, bias_levels=bias_levels,
                                   alpha_levels=alpha_levels,
                                   labels=list(student.clf.labels), model_set=student.clf.model_set,
                                   version=version, params=data.params, input_scale=student.input_scale,
                                   temperature=temperature, unknown_threshold=threshold,
                                   metrics={"parameters": parameters}, training=training, aggregation=AGGREGATION)

    x = normalise(np.concatenate([data.mels[i][data.sounding(i)] for i in val_idx]), student.input_scale)[:, None]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    levels, candidates = choose_levels(twin, candidate_levels, x, size_limit(student.parameters), export)
    log("field-xnor: levels {}x{}x{} of {}".format(*levels, candidates))
    size, parts = export(out, *levels)
    log(f"field-xnor: {out} {size} bytes; evaluating both models on {len(val_idx)} calibration files")
    # the trained twin before the compact export's quantisation (torch, float head, biases and alphas; the cached
    # log-mels of the same calibration files): what training lost, apart from what quantisation loses
    torch_probs = file_probabilities(window_logits(twin, [data.mels[i][data.sounding(i)] for i in val_idx],
                                                   student.input_scale), temperature, len(data.labels))
    torch_scores = grouped_scores(torch_probs, student.clf.labels, threshold, [data.labels_of_files[i] for i in val_idx],
                                  [where[ok[i]] for i in val_idx])
    val_rows = [rows[ok[i]] for i in val_idx]
    decoded = decode_files([r.path for r in val_rows], data.params.sample_rate)
    keep = [k for k, d in enumerate(decoded) if d is not None]
    args = ([decoded[k] for k in keep], [val_rows[k].label for k in keep], [where[ok[val_idx[k]]] for k in keep])
    report = {"model": str(out), "model_version": version, "twin_of": training["twin_of"],
              "temperature": temperature, "unknown_threshold": threshold, "parameters": parameters,
              "model_bytes": size, "levels": {"head": levels[0], "biases": levels[1], "alphas": levels[2],
                                                 "candidates": candidates},
              "bytes_by_part": parts, "fp32_weights_bytes": 4 * student.parameters,
              "size_ratio_vs_fp32_weights": size_ratio(student.parameters, size),
              "size_limit_16x": size_limit(student.parameters), "meets_size": size <= size_limit(student.parameters),
              "student_bytes": student.path.stat().st_size, "config": asdict(cfg), "steps": steps,
              "calibration_files": len(keep), "scores": {"twin": runtime_scores(out, *args),
                                                         "student": runtime_scores(student.path, *args),
                                                         "twin_torch_unquantised": torch_scores},
              "manifests": [str(m) for m in manifests], "skipped": skipped}
    report["accuracy_drop_points"] = {g: round(100 * (report["scores"]["student"][g]["accuracy"]
                                                      - report["scores"]["twin"][g]["accuracy"]), 2)
                                      for g in report["scores"]["twin"]}
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    rp = Path(report_path) if report_path is not None else Path(out).with_suffix(".report.json")
    rp.parent.mkdir(parents=True, exist_ok=True)
    report["report"] = str(rp)
    rp.write_text(json.dumps(report, indent=2) + "\n")
    return report

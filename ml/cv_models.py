"""The model kinds ``python -m ml cv`` trains per fold (the :class:`ml.cv.Learner` protocol).

* ``baseline`` -- the shipped ``logmel-stats-mlp`` recipe of ``train-baseline`` (:mod:`ml.baseline`):
  window summaries computed as at inference, the most active half of each recording's sounding windows,
  class-balanced MLP, float16 storage; temperature (file-level NLL) and unknown threshold (right minus
  wrong) chosen on the fold's validation part.
* ``phinet`` -- ``python -m ml train`` (:func:`ml.train.train`) on a per-fold manifest whose split column
  marks the fit part ``train``, the validation part ``val`` and the outer test fold ``test``. Generations,
  temperature and threshold are chosen on ``val``; ``train`` also writes its own report of the ``test``
  files, which chooses nothing. The exported runtime file then classifies the test files through
  :mod:`ml.runtime.classifier`, as the phone and the server do.
* ``birdnet-probe`` -- a linear probe on BirdNET V2.4's 6,522 window logits (:func:`ml.train.fit_probe`:
  multinomial logistic regression, standardised inputs, class-balanced), fitted on every window of the fit
  part's recordings; a file's probabilities are the mean of its windows' ``softmax(logits / T)``, with the
  temperature and unknown threshold chosen on the validation part as for ``baseline``. The verifier
  candidate of DESIGN §2; needs the ``teachers`` extra.
* ``verifier`` -- the server's verifier head (:func:`ml.verifier.fit_head`: BirdNET's own pooled logit for the
  labels it names, a probe on the teaching windows for the rest, scalars fitted on cross-fitted probe outputs
  inside the fit part, its unknown threshold the highest coverage with 90 % accuracy on answered files).
* ``server`` -- what the analysis task decides (:mod:`ml.verdict`): the ``baseline`` recipe as the field model
  and the ``verifier``, both fitted on the fit part, combined by :func:`ml.verdict.fit_combination` on the
  validation part (weights by NLL, unknown threshold by coverage), with the location/date prior built from
  the fit part's rows (``lat``, ``lng``, ``date``) unless ``ServerOptions.prior`` is off: a file's prior never
  holds its own recording.

:func:`prepare` reads every file once, reports the unreadable ones and leaves them out.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ml.manifest import ManifestRow
from ml.runtime.audio import AudioError

KINDS = ("baseline", "phinet", "birdnet-probe", "verifier", "server", "field")


@dataclass(frozen=True)
class PhinetOptions:
    """The ``train`` options ``cv --model-kind phinet`` passes on (the rest are :class:`ml.train.TrainConfig`'s)."""

    epochs: int = 60
    generations: int = 1
    teacher: str = "none"
    hop_length: int = 640
    windows_per_file: int = 12
    background_per_file: int = 3
    alpha: float = 0.75
    threads: int = 1


# --- baseline ------------------------------------------------------------------------------------

def _baseline_file(path: str, params) -> np.ndarray | tuple[str, str]:
    """(n_windows, summary_dim + 1) features (last column: window RMS), or (code, message) when unreadable."""
    from ml.baseline import file_features

    try:
        return file_features(path, params)
    except AudioError as exc:
        return exc.code, exc.message
    except FileNotFoundError:
        return "file_not_found", f"No such file: {path}"
    except OSError as exc:
        return "file_unreadable", str(exc)


def baseline_features(paths: Sequence[Path], workers: int, cache_dir: Path | None, log: Callable[[str], None]
                      ) -> tuple[list[np.ndarray | None], list[tuple[str, str] | None]]:
    """Per file the baseline's window features (None when unreadable) and the error (None when read)."""
    from ml.baseline import CACHE_LAYOUT, SUMMARY, _code_fingerprint
    from ml.runtime.features import FeatureParams

    params = FeatureParams()
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (str(p), -1, -1) for p in paths]
    key = hashlib.sha256(json.dumps({"files": stats, "params": params.to_dict(), "summary": SUMMARY,
                                     "code": _code_fingerprint(), "layout": CACHE_LAYOUT + "+cv-ok"},
                                    sort_keys=True).encode()).hexdigest()[:20]
    cache = cache_dir / f"cv-features-{key}.npz" if cache_dir else None
    if cache and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            flat, off, ok = npz["features"], npz["offsets"], npz["ok"]
            codes, messages = list(npz["codes"]), list(npz["messages"])
        log(f"features: {len(paths)} files from cache {cache.name}")
        return ([flat[off[i]: off[i + 1]] if ok[i] else None for i in range(len(paths))],
                [None if ok[i] else (str(codes[i]), str(messages[i])) for i in range(len(paths))])
    names = [str(p) for p in paths]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            out = list(pool.map(_baseline_file, names, [params] * len(names), chunksize=4))
    else:
        out = [_baseline_file(n, params) for n in names]
    feats = [o if isinstance(o, np.ndarray) else None for o in out]
    errors = [None if isinstance(o, np.ndarray) else o for o in out]
    if cache:
        good = [f for f in feats if f is not None]
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, features=np.concatenate(good) if good else np.zeros((0, 1), np.float32),
                     offsets=np.cumsum([0] + [0 if f is None else len(f) for f in feats]),
                     ok=np.array([f is not None for f in feats]),
                     codes=np.array([e[0] if e else "" for e in errors]),
                     messages=np.array([e[1] if e else "" for e in errors]))
        os.replace(tmp, cache)
    return feats, errors


@dataclass
class FittedBaseline:
    arrays: dict
    temperature: float
    unknown_threshold: float
    selection: dict
    sounding: Callable[[int], np.ndarray]

    def predict(self, idx: np.ndarray) -> np.ndarray:
        from ml.baseline import file_probs, forward

        return file_probs([forward(self.sounding(i), self.arrays) for i in idx], self.temperature)


class BaselineLearner:
    """``train-baseline``'s recipe on the window features of ``feats`` (aligned with ``labels_of_items``)."""

    def __init__(self, feats: Sequence[np.ndarray], labels_of_items: Sequence[str], hyper=None,
                 log: Callable[[str], None] = lambda line: None):
        from ml.baseline import Hyper

        self.feats = list(feats)
        self.labels = sorted(set(labels_of_items))
        index = {lab: k for k, lab in enumerate(self.labels)}
        self.y = np.array([index[lab] for lab in labels_of_items])
        self.hyper = hyper or Hyper()
        self.log = log

    def sounding(self, i: int) -> np.ndarray:
        """The item's features over its sounding windows (all windows when none sounds), as at inference."""
        from ml.runtime.classifier import SILENCE_RMS

        t = self.feats[i]
        m = t[:, -1] >= SILENCE_RMS
        return t[m, :-1] if m.any() else t[:, :-1]

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> FittedBaseline:
        from ml.baseline import (file_probs, fit_temperature, fit_unknown_threshold, forward, select_active,
                                 storage_arrays, train_mlp)
        from ml.runtime.features import FeatureParams

        params = FeatureParams()
        hyper = replace(self.hyper, seed=seed)
        xs, ys = [], []
        for i in fit_idx:
            f = self.sounding(i)
            keep = select_active(f, params, hyper.keep_active_fraction)
            xs.append(f[keep])
            ys.append(np.full(len(keep), self.y[i]))
        x, y = np.concatenate(xs), np.concatenate(ys)
        counts = np.bincount(y, minlength=len(self.labels)).astype(np.float64)
        arrays = storage_arrays(train_mlp(x, y, 1.0 / counts[y], len(self.labels), hyper, log=self.log))
        val_logits = [forward(self.sounding(i), arrays) for i in val_idx]
        y_val = self.y[np.asarray(val_idx)]
        temperature = fit_temperature([(val_logits, y_val)])
        threshold = fit_unknown_threshold([(file_probs(val_logits, temperature), y_val)])
        return FittedBaseline(arrays, temperature, threshold,
                              {"temperature": round(temperature, 4), "unknown_threshold": threshold,
                               "train_windows": int(len(x))}, self.sounding)


# --- phinet (python -m ml train per fold) ---------------------------------------------------------

@dataclass
class FittedRuntimeModel:
    path: Path
    rows: Sequence[ManifestRow]
    labels: list[str]
    unknown_threshold: float
    selection: dict

    def predict(self, idx: np.ndarray) -> np.ndarray:
        from ml.runtime.audio import decode
        from ml.runtime.classifier import load_classifier

        clf = load_classifier(self.path)
        order = [list(clf.labels).index(lab) for lab in self.labels]
        out = []
        for i in idx:
            samples, sr = decode(self.rows[i].path.read_bytes(), sample_rate=clf.feature_params.sample_rate)
            out.append(np.asarray(clf.file_probabilities(samples, sr), dtype=np.float64)[order])
        return np.stack(out)


class PhinetLearner:
    """A PhiNet student per fold through :func:`ml.train.train` (see the module docstring)."""

    def __init__(self, rows: Sequence[ManifestRow], options: PhinetOptions, workdir: Path,
                 log: Callable[[str], None] = lambda line: None):
        self.rows = list(rows)
        self.labels = sorted({r.label for r in self.rows})
        self.options = options
        self.workdir = workdir
        self.log = log
        self.n_fits = 0

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> FittedRuntimeModel:
        from ml.cv import CVError
        from ml.train import TrainConfig, TrainError, train

        split = ["test"] * len(self.rows)  # every file stays in the manifest so the feature cache is shared
        for i in fit_idx:
            split[i] = "train"
        for i in val_idx:
            split[i] = "val"
        self.n_fits += 1
        manifest = self.workdir / f"fold-{self.n_fits}.csv"
        with open(manifest, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "label", "recording_id", "scientific", "cv_split"])
            for r, s in zip(self.rows, split):
                w.writerow([str(r.path.resolve()), r.label, r.recording, r.meta.get("scientific", ""), s])
        out = self.workdir / f"fold-{self.n_fits}.npz"
        o = self.options
        cfg = TrainConfig(manifest=str(manifest), out=str(out), split_column="cv_split", train_values=("train",),
                          val_values=("val",), test_values=("test",), xnor=False, generations=o.generations,
                          epochs=o.epochs, teacher=o.teacher, hop_length=o.hop_length, alpha=o.alpha,
                          windows_per_file=o.windows_per_file, background_per_file=o.background_per_file,
                          threads=o.threads, seed=seed, version=f"cv-fold-{self.n_fits}")
        try:
            report = train(cfg, log=self.log)
        except TrainError as exc:
            raise CVError(f"fold {self.n_fits}: {exc}") from None
        return FittedRuntimeModel(out, self.rows, self.labels, float(report["unknown_threshold"]),
                                  {"temperature": round(float(report["temperature"]), 4),
                                   "unknown_threshold": round(float(report["unknown_threshold"]), 4),
                                   "generations_kept": [g["generation"] for g in report["generations"] if g["kept"]]})


# --- verifier and server ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerOptions:
    """``cv --model-kind verifier|server`` options."""

    prior: bool = True
    gate: bool = True  # server: fit the verdict's gate on the validation part and apply it to the test files
    windows_per_file: int = 8
    top_k: int = 3


def birdnet_label_columns(rows: Sequence[ManifestRow]) -> dict[str, int]:
    """BirdNET's column of each manifest label it names (by scientific name from the ``scientific`` column,
    else by common name)."""
    from ml.teachers.birdnet import label_columns

    labels = sorted({r.label for r in rows})
    scientific = {r.label: r.meta.get("scientific", "") for r in rows}
    return label_columns(labels, scientific)


@dataclass
class FittedVerifier:
    head: object
    windows: Sequence[np.ndarray]
    unknown_threshold: float
    selection: dict

    def predict(self, idx: np.ndarray) -> np.ndarray:
        return np.stack([self.head.file_probabilities(self.windows[i]) for i in idx])


class VerifierLearner:
    """The verifier head per fold (see the module docstring)."""

    def __init__(self, windows: Sequence[np.ndarray], rows: Sequence[ManifestRow], options: ServerOptions,
                 log: Callable[[str], None] = lambda line: None):
        self.windows = list(windows)
        self.rows = list(rows)
        self.labels = sorted({r.label for r in self.rows})
        self.columns = birdnet_label_columns(self.rows)
        self.options = options
        self.log = log

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> FittedVerifier:
        from ml.verifier import fit_head

        head, _ = fit_head([self.windows[i] for i in fit_idx], [self.rows[i].label for i in fit_idx],
                           [self.rows[i].recording for i in fit_idx], self.labels, self.columns, seed=seed,
                           windows_per_file=self.options.windows_per_file, top_k=self.options.top_k)
        return FittedVerifier(head, self.windows, head.unknown_threshold,
                              {"unknown_threshold": round(head.unknown_threshold, 4),
                               "scalars": [round(v, 3) for v in (head.known_scale, head.known_bias,
                                                                  head.probe_scale, head.probe_bias)]})


def prior_of(rows: Sequence[ManifestRow], fit_idx: np.ndarray, i: int) -> dict | None:
    """The location/date prior at row ``i``'s place and date, built from the ``fit_idx`` rows (None: no place)."""
    from datetime import date

    from ml.runtime.prior import SpeciesPrior

    meta = rows[i].meta
    try:
        lat, lng = float(meta.get("lat", "")), float(meta.get("lng", ""))
    except ValueError:
        return None
    prior = SpeciesPrior.from_records([{"species": rows[j].label, "lat": rows[j].meta.get("lat"),
                                        "lng": rows[j].meta.get("lng"), "date": rows[j].meta.get("date")}
                                       for j in fit_idx])
    if prior.labels.size == 0:
        return None
    try:
        when = date.fromisoformat(str(meta.get("date") or "")[:10])
    except ValueError:
        when = None
    try:
        return prior.weights(lat, lng, when)
    except ValueError:
        return None


@dataclass
class FittedServer:
    field: object
    verifier: FittedVerifier
    combination: object
    priors: Callable[[int], dict | None]
    labels: list[str]
    unknown_threshold: float
    selection: dict
    truth: Sequence[str] | None = None  # every row's label, for the gate's report

    def predict(self, idx: np.ndarray) -> np.ndarray:
        """The verdicts of ``idx``, the gate applied as in :func:`ml.verdict.server_verdict`; ``selection`` gets the
        test files' skipped fraction and the accuracy the ungated verdict would have had on them."""
        from ml.verdict import Combination, Gate, combine

        idx = np.asarray(idx)
        f, v = self.field.predict(idx), self.verifier.predict(idx)
        gate = Gate.from_dict(self.combination.gate)
        full = [combine(self.labels, self.labels, f[k], self.labels, v[k], self.combination, self.priors(i))
                for k, i in enumerate(idx)]
        flat = np.full(len(self.labels), 1.0 / len(self.labels))
        skipped = [gate.skips("", self.labels, f[k]) for k in range(len(idx))]
        out = [combine(self.labels, self.labels, f[k], self.labels, flat, Combination(1.0, 0.0, 1.0), self.priors(i))
               if skipped[k] else full[k] for k, i in enumerate(idx)]
        if self.truth is not None:
            self.selection["gate_test"] = {"skipped": round(float(np.mean(skipped)), 4), "ungated_accuracy": round(
                float(np.mean([self.labels[int(np.argmax(p))] == self.truth[i] for p, i in zip(full, idx)])), 4)}
        return np.stack(out)


class ServerLearner:
    """The server's verdict per fold: baseline field model + verifier + fitted combination (module docstring)."""

    def __init__(self, feats: Sequence[np.ndarray], windows: Sequence[np.ndarray], rows: Sequence[ManifestRow],
                 options: ServerOptions, log: Callable[[str], None] = lambda line: None):
        self.rows = list(rows)
        self.field = BaselineLearner(feats, [r.label for r in self.rows])
        self.verifier = VerifierLearner(windows, self.rows, options, log)
        self.labels = self.field.labels
        self.options = options

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> FittedServer:
        from ml.verdict import combine, fit_combination, fit_gate

        field = self.field.fit(fit_idx, val_idx, seed)
        verifier = self.verifier.fit(fit_idx, val_idx, seed)
        use_prior = self.options.prior

        def priors(i: int) -> dict | None:
            return prior_of(self.rows, fit_idx, i) if use_prior else None

        f_val, v_val = field.predict(val_idx), verifier.predict(val_idx)
        y_val = [self.rows[i].label for i in val_idx]
        p_val = [priors(i) for i in val_idx] if use_prior else None
        comb = fit_combination(self.labels, self.labels, f_val, self.labels, v_val, y_val, p_val)
        if self.options.gate:
            verdicts = combine(self.labels, self.labels, f_val, self.labels, v_val, comb) if not use_prior else \
                np.stack([combine(self.labels, self.labels, f_val[k], self.labels, v_val[k], comb, p_val[k])
                          for k in range(len(val_idx))])
            right = [self.labels[int(np.argmax(p))] == lab for p, lab in zip(verdicts, y_val)]
            comb = replace(comb, gate=fit_gate(self.labels, f_val, right, y_val).to_dict())
        return FittedServer(field, verifier, comb, priors, self.labels, comb.unknown_threshold,
                            {"combination": {k: v for k, v in comb.to_dict().items() if k != "fitted_on"},
                             "field": field.selection, "verifier": verifier.selection},
                            [r.label for r in self.rows])


# --- birdnet-probe -------------------------------------------------------------------------------

@dataclass
class FittedProbe:
    predict_logits: Callable[[np.ndarray], np.ndarray]
    windows: Sequence[np.ndarray]
    temperature: float
    unknown_threshold: float
    selection: dict

    def predict(self, idx: np.ndarray) -> np.ndarray:
        from ml.baseline import file_probs

        return file_probs([self.predict_logits(self.windows[i]) for i in idx], self.temperature)


class ProbeLearner:
    """A linear probe on BirdNET's window logits per fold (see the module docstring)."""

    def __init__(self, windows: Sequence[np.ndarray], labels_of_items: Sequence[str]):
        self.windows = list(windows)
        self.labels = sorted(set(labels_of_items))
        index = {lab: k for k, lab in enumerate(self.labels)}
        self.y = np.array([index[lab] for lab in labels_of_items])

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> FittedProbe:
        from ml.baseline import file_probs, fit_temperature, fit_unknown_threshold
        from ml.train import fit_probe

        x = np.concatenate([self.windows[i] for i in fit_idx]).astype(np.float32)
        y = np.concatenate([np.full(len(self.windows[i]), self.y[i]) for i in fit_idx])
        predict = fit_probe(x, y, len(self.labels), seed)
        val_logits = [predict(self.windows[i]).astype(np.float64) for i in val_idx]
        y_val = self.y[np.asarray(val_idx)]
        temperature = fit_temperature([(val_logits, y_val)])
        threshold = fit_unknown_threshold([(file_probs(val_logits, temperature), y_val)])
        return FittedProbe(lambda z: predict(z).astype(np.float64), self.windows, temperature, threshold,
                           {"temperature": round(temperature, 4), "unknown_threshold": threshold,
                            "train_windows": int(len(x))})


def birdnet_windows(rows: Sequence[ManifestRow], log: Callable[[str], None]
                    ) -> tuple[list[np.ndarray | None], list[tuple[str, str] | None]]:
    """Per file BirdNET's (n_windows, 6522) logits (cached in ``var/cache/birdnet/``), or the error;
    :class:`~ml.cv.CVError` without the ``teachers`` extra."""
    from ml.cv import CVError
    from ml.teachers import birdnet as bn

    try:
        return bn.logits_of_files([r.path for r in rows], log)
    except bn.TeacherUnavailable as exc:
        raise CVError(f"this model kind needs BirdNET (the teachers extra): {exc}") from None


class FieldLearner:
    """The field recipe per fold (:func:`ml.field.fit_field`), scored through the exported runtime file."""

    def __init__(self, data, rows: Sequence[ManifestRow], config, workdir: Path,
                 log: Callable[[str], None] = lambda line: None):
        self.data = data
        self.rows = list(rows)
        self.labels = list(data.labels)
        self.config = config
        self.workdir = workdir
        self.log = log
        self.n_fits = 0

    def fit(self, fit_idx: np.ndarray, val_idx: np.ndarray, seed: int) -> FittedRuntimeModel:
        from ml.field import fit_field

        self.n_fits += 1
        out = self.workdir / f"field-fold-{self.n_fits}.npz"
        report = fit_field(self.data, list(fit_idx), list(val_idx), replace(self.config, seed=seed), out,
                           version=f"cv-field-fold-{self.n_fits}", log=self.log)
        return FittedRuntimeModel(out, self.rows, self.labels, float(report["unknown_threshold"]),
                                  {"temperature": report["temperature"], "unknown_threshold": report["unknown_threshold"],
                                   "train_windows": report["train_windows"], "seconds": report["seconds"]})


def prepare(kind: str, rows: Sequence[ManifestRow], workers: int, cache_dir: Path | None,
            log: Callable[[str], None], options: PhinetOptions | None = None,
            field_config=None) -> tuple[list[int], list[dict], dict]:
    """(indices of the readable rows, skipped files as ``{file, code, message}``, kind-specific state)."""
    if kind == "field":
        from ml.cv import CVError
        from ml.field import FieldConfig, load_field_data
        from ml.teachers.birdnet import TeacherUnavailable

        try:
            data, ok, skipped = load_field_data(rows, (field_config or FieldConfig()).hop_length, workers, log)
        except TeacherUnavailable as exc:
            raise CVError(f"this model kind needs BirdNET (the teachers extra): {exc}") from None
        return ok, skipped, {"field_data": data}
    if kind == "baseline":
        feats, errors = baseline_features([r.path for r in rows], workers, cache_dir, log)
        ok = [i for i, f in enumerate(feats) if f is not None]
        skipped = [{"file": str(rows[i].path), "code": e[0], "message": e[1]} for i, e in enumerate(errors) if e]
        return ok, skipped, {"feats": feats}
    if kind == "phinet":
        from ml.runtime.features import FeatureParams
        from ml.train import Item, load_features

        hop = (options or PhinetOptions()).hop_length
        items = [Item(r.path.resolve(), r.label, r.recording) for r in rows]  # the paths train() will read
        feats, _, errors = load_features(items, FeatureParams(hop_length=hop), workers, log)
        ok = [i for i, f in enumerate(feats) if f is not None]
        failed = [i for i, f in enumerate(feats) if f is None]  # errors are in the same order: "path: skipped (why)"
        skipped = [{"file": str(rows[i].path), "code": "file_unreadable", "message": e.split(": skipped ", 1)[-1]}
                   for i, e in zip(failed, errors)]
        return ok, skipped, {}
    if kind == "server":
        feats, errors = baseline_features([r.path for r in rows], workers, cache_dir, log)
        windows, w_errors = birdnet_windows(rows, log)
        ok = [i for i, (f, w) in enumerate(zip(feats, windows)) if f is not None and w is not None and len(w)]
        skipped = [{"file": str(rows[i].path), "code": e[0], "message": e[1]}
                   for i, e in enumerate(a or b for a, b in zip(errors, w_errors)) if e]
        return ok, skipped, {"feats": feats, "windows": windows}
    if kind in ("birdnet-probe", "verifier"):
        windows, errors = birdnet_windows(rows, log)
        ok = [i for i, w in enumerate(windows) if w is not None and len(w)]
        skipped = [{"file": str(rows[i].path), "code": e[0], "message": e[1]} for i, e in enumerate(errors) if e]
        return ok, skipped, {"windows": windows}
    raise ValueError(f"unknown model kind {kind!r}; choose from {', '.join(KINDS)}")


def make_learner(kind: str, rows: Sequence[ManifestRow], ok: Sequence[int], state: dict,
                 options: PhinetOptions | None, log: Callable[[str], None], server: ServerOptions | None = None,
                 field_config=None):
    """The learner of ``kind`` over ``rows[i] for i in ok`` (the readable ones, as :func:`prepare` found)."""
    rows = [rows[i] for i in ok]
    if kind == "field":
        from ml.field import FieldConfig

        return FieldLearner(state["field_data"], rows, field_config or FieldConfig(),
                            Path(tempfile.mkdtemp(prefix="dawn-cv-field-")), log)
    if kind == "verifier":
        return VerifierLearner([state["windows"][i] for i in ok], rows, server or ServerOptions(), log)
    if kind == "server":
        return ServerLearner([state["feats"][i] for i in ok], [state["windows"][i] for i in ok], rows,
                             server or ServerOptions(), log)
    if kind == "baseline":
        return BaselineLearner([state["feats"][i] for i in ok], [r.label for r in rows])
    if kind == "birdnet-probe":
        return ProbeLearner([state["windows"][i] for i in ok], [r.label for r in rows])
    workdir = Path(tempfile.mkdtemp(prefix="dawn-cv-"))
    return PhinetLearner(rows, options or PhinetOptions(), workdir, log)

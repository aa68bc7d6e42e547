"""``python -m ml train``: PhiNet students distilled from BirdNET, born-again generations, XNOR twin.

Pipeline (one seed makes it deterministic on one thread):

1. **Data** from a manifest (``file`` relative to the manifest, label column). Split by
   recording: ``--split-column`` values (e.g. urban folds: ``--train 1 --val 3 --test 2``) or,
   without it, a seeded per-species split of recordings (20 % test, 20 % validation).
   Unreadable files are reported and skipped.
2. **Features**: the torch log-mel frontend (:mod:`ml.frontend`, parity-tested against the
   runtime) of every 3-s window, cached under ``var/cache/students/``.
3. **Weak labels**: from each training recording the ``--windows-per-file`` windows where the
   teacher's score for the named species is highest (species BirdNET lacks: highest 1-12 kHz
   activity) are used with the recording's label, and the ``--background-per-file`` least
   likely ones with a uniform target (so that windows without the bird stay undecided and do
   not outvote the others in a file's mean).
4. **Teachers**: BirdNET V2.4 (cached window scores restricted to the target species, turned
   into soft targets with softmax(logit / T)), then each kept generation (born-again), combined
   with :func:`ml.distill.combine_teachers`. For label sets BirdNET does not name (city sounds),
   ``--teacher birdnet-probe`` teaches with a linear probe on BirdNET's 6,522 window logits,
   fitted on the training recordings; the training windows get out-of-fold probe logits
   (K folds by recording), so the targets carry the probe's held-out behaviour, not its fit.
5. **Training**: AdamW, cosine schedule, class-balanced sampling, augmentation on the log-mel
   (pitch shift = mel-bin shift, time stretch = time-axis resampling, additive noise, mixup,
   SpecAugment masks), KD loss ``alpha T^2 KL + (1-alpha) CE``.
6. **Generations**: N students of the same architecture, each taught by the previous kept one;
   a generation is kept only if its validation macro-F1 is higher and its ECE no worse by more
   than 0.01. The student ensemble (mean of kept generations) is reported too.
7. **Calibration**: temperature fitted on validation files (file-level NLL), unknown threshold
   maximising right-minus-wrong answers; ECE (10 bins) and a reliability PNG.
8. **XNOR twin** (``--xnor``): the same architecture binarised (depthwise convs full precision, Bi-Real
   shortcuts), starting from the best student's weights and distilled from it: from the frozen student
   run on each augmented batch (``--xnor-teacher online``, the default), or from its stored window
   probabilities beside the teachers' (``fixed``).
   ``--xnor-from STUDENT.npz`` skips the generations and distils the twin of a student trained
   before (same data and seed; written to STUDENT-xnor.npz beside it, report STUDENT-xnor.report.json).
9. **Export**: the best student to ``--out`` (and ``--out`` with ``-xnor`` before the suffix),
   plus ``<out>.report.json`` with metrics per generation and per teacher.

:func:`train` reads as these steps, each a function returning a frozen dataclass the next one takes:
:func:`check_config`, :func:`load_data` (:class:`TrainData`), :func:`weak_label_windows` (:class:`Split`),
:func:`stored_teachers` (:class:`Teachers`), :func:`select` over :func:`fit_generation` (:class:`Selection` of
:class:`Generation`), :func:`calibrate` (:class:`Calibration`), :func:`export` (:class:`Exported`) and
:func:`fit_xnor_twin`. Only the report written at the end is a JSON object.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ml.runtime import audio
from ml.runtime.classifier import SILENCE_RMS
from ml.runtime.features import FeatureParams, hz_to_mel, mel_to_hz, window_starts

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("DAWN_ML_CACHE", REPO_ROOT / "var" / "cache")) / "students"
FEATURE_LAYOUT = "torch-logmel-f16/1"


class TrainError(ValueError):
    """Bad input for training: the message is shown to the user (exit status 2)."""


XNOR_CHOICES = {"xnor_init": ("student", "random"), "xnor_depthwise": ("float", "binary"),
                "xnor_teacher": ("fixed", "online")}  # TrainConfig's XNOR options and the values they take


@dataclass(frozen=True)
class TrainConfig:
    manifest: str
    out: str
    model_set: str = "birds"
    label_column: str | None = None
    split_column: str | None = None
    train_values: tuple[str, ...] = ()
    val_values: tuple[str, ...] = ()
    test_values: tuple[str, ...] = ()
    alpha: float = 0.75  # PhiNet width
    beta: float = 1.0
    t0: float = 3.0
    blocks: int = 5
    embed_dim: int = 96
    epochs: int = 20
    generations: int = 2
    xnor: bool = True
    xnor_epochs: int = 20
    batch_size: int = 48
    lr: float = 3e-3
    weight_decay: float = 1e-3
    kd_alpha: float = 0.6
    kd_temperature: float = 3.0
    teacher: str = "birdnet"  # "birdnet", "birdnet-probe" (linear probe on BirdNET logits) or "none"
    teacher_mode: str = "weighted"
    windows_per_file: int = 8
    background_per_file: int = 2  # least likely windows of a training file, taught a uniform target
    mixup: float = 0.2
    encoding: str = "float16"
    seed: int = 20261121
    version: str | None = None
    workers: int = 2
    max_files: int | None = None
    hop_length: int = 320  # STFT hop at 24 kHz (640: half the frames, half the compute)
    threads: int = 1  # torch threads (1: bit-for-bit reproducible)
    xnor_from: str | None = None  # runtime student file: train only its XNOR twin
    xnor_init: str = "student"  # the twin's latent weights start as the best student's ("student") or random
    xnor_depthwise: str = "float"  # "float": the twin keeps its 3x3 depthwise convs full precision; "binary"
    xnor_shortcuts: bool = True  # a real-valued shortcut around each of the twin's binary 1x1 convs (Bi-Real)
    xnor_teacher: str = "online"  # the twin's KD target: "online" (the frozen student on each augmented batch, as
    # ReActNet distils) or "fixed" (the teachers' and the student's probabilities on the unaugmented windows)


@dataclass
class Item:
    path: Path
    label: str
    group: str
    split: str = ""
    meta: dict = field(default_factory=dict)


# --- data --------------------------------------------------------------------------------------

def read_items(cfg: TrainConfig) -> tuple[list[Item], str]:
    """Manifest rows as items with a split; raises :class:`TrainError` on bad manifests."""
    from ml.manifest import ManifestError, read_manifest

    try:
        table = read_manifest(cfg.manifest, cfg.label_column)
    except ManifestError as exc:
        raise TrainError(str(exc)) from None
    if cfg.split_column and cfg.split_column not in table.columns:
        raise TrainError(f"{table.path} has no split column {cfg.split_column!r}.")
    label_col = table.label_column
    items = [Item(r.path, r.label, r.recording, meta=dict(r.meta)) for r in table.rows]
    if cfg.split_column:
        for it in items:
            v = it.meta[cfg.split_column]
            it.split = "train" if v in cfg.train_values else "val" if v in cfg.val_values else \
                "test" if v in cfg.test_values else ""
        items = [it for it in items if it.split]
        if not cfg.val_values:  # carve validation out of the training recordings, by group
            groups = sorted({it.group for it in items if it.split == "train"})
            random.Random(cfg.seed).shuffle(groups)
            val_groups = set(groups[: max(1, round(0.15 * len(groups)))])
            for it in items:
                if it.split == "train" and it.group in val_groups:
                    it.split = "val"
    else:
        rng = random.Random(cfg.seed)
        by_label: dict[str, list[Item]] = {}
        for it in items:
            by_label.setdefault(it.label, []).append(it)
        for lab in sorted(by_label):
            group = sorted(by_label[lab], key=lambda it: (len(it.group), it.group))
            rng.shuffle(group)
            n = len(group)
            n_test, n_val = max(1, round(0.2 * n)), max(1, round(0.2 * n))
            for k, it in enumerate(group):
                it.split = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    if cfg.max_files:
        rng = random.Random(cfg.seed)
        rng.shuffle(items)
        items = items[: cfg.max_files]
    for split in ("train", "val"):
        if not any(it.split == split for it in items):
            raise TrainError(f"The split leaves no {split} files.")
    return items, label_col


def file_windows(path: str, params: FeatureParams) -> tuple[np.ndarray, np.ndarray] | str:
    """(log-mels float16 (n, mels, frames), window RMS) of one file, or an error message."""
    import torch

    from ml.frontend import window_log_mels

    torch.set_num_threads(1)
    try:
        samples, _ = audio.decode(Path(path).read_bytes(), sample_rate=params.sample_rate)
    except audio.AudioError as exc:
        return f"{exc.code}: {exc.message}"
    except OSError as exc:
        return f"file_unreadable: {exc}"
    win = int(params.window_seconds * params.sample_rate)
    rms = np.array([np.sqrt(np.mean(np.square(samples[s: s + win], dtype=np.float64)))
                    for s in window_starts(samples.size, params)], np.float32)
    return window_log_mels(samples, params).astype(np.float16), rms


def load_features(items: list[Item], params: FeatureParams, workers: int, log: Callable[[str], None]
                  ) -> tuple[list[np.ndarray | None], list[np.ndarray | None], list[str]]:
    """Per-item window log-mels and RMS (None for a corrupt file), cached; plus error lines."""
    key = hashlib.sha256(json.dumps({"files": [(str(i.path), i.path.stat().st_size if i.path.exists() else -1)
                                               for i in items], "params": params.to_dict(),
                                     "layout": FEATURE_LAYOUT}, sort_keys=True).encode()).hexdigest()[:20]
    cache = CACHE_DIR / f"features-{key}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            mels, rms, off, ok = npz["mels"], npz["rms"], npz["offsets"], npz["ok"]
        feats = [mels[off[i]: off[i + 1]] if ok[i] else None for i in range(len(items))]
        rmss = [rms[off[i]: off[i + 1]] if ok[i] else None for i in range(len(items))]
        log(f"features: {len(items)} files from cache {cache.name}")
        return feats, rmss, [f"{items[i].path}: skipped (unreadable)" for i in range(len(items)) if not ok[i]]
    from tqdm import tqdm

    paths = [str(i.path) for i in items]
    results = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for r in tqdm(pool.map(file_windows, paths, [params] * len(paths), chunksize=4), total=len(paths),
                          desc="features", file=sys.stderr):
                results.append(r)
    else:
        results = [file_windows(p, params) for p in tqdm(paths, desc="features", file=sys.stderr)]
    errors = [f"{p}: skipped ({r})" for p, r in zip(paths, results) if isinstance(r, str)]
    feats = [None if isinstance(r, str) else r[0] for r in results]
    rmss = [None if isinstance(r, str) else r[1] for r in results]
    good = [f for f in feats if f is not None]
    if not good:
        raise TrainError("No file of the manifest could be read.")
    lengths = [0 if f is None else len(f) for f in feats]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, mels=np.concatenate(good), rms=np.concatenate([r for r in rmss if r is not None]),
                 offsets=np.cumsum([0] + lengths), ok=np.array([f is not None for f in feats]))
    tmp.replace(cache)
    return feats, rmss, errors


def activity(mels: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Per window: mean over 1-12 kHz mel bands of (90th - 50th percentile over time)."""
    centres = mel_to_hz(np.linspace(hz_to_mel(params.fmin), hz_to_mel(params.fmax), params.n_mels + 2))[1:-1]
    m = mels[:, centres >= 1000].astype(np.float32)
    p90, p50 = np.percentile(m, [90, 50], axis=2)
    return (p90 - p50).mean(axis=1)


def teacher_scores(items: list[Item], feats: list, labels: list[str], log: Callable[[str], None]
                   ) -> tuple[list[np.ndarray | None], dict[str, int]]:
    """BirdNET logits restricted to ``labels`` (columns of unknown species = NaN), per item."""
    from ml.teachers.birdnet import BirdNET, TeacherUnavailable, cached_file_logits, is_cached

    scientific = {it.label: it.meta.get("scientific", "") for it in items}
    try:
        model = BirdNET() if not all(is_cached(it.path) for it, f in zip(items, feats) if f is not None) else None
        probe = model or BirdNET.__new__(BirdNET)
        if model is None:  # labels only, no interpreter needed
            from ml.teachers.birdnet import LABELS_NAME, model_dir
            probe.labels = (model_dir() / LABELS_NAME).read_text(encoding="utf-8").splitlines()
            probe.scientific = [x.split("_", 1)[0] for x in probe.labels]
            probe.common = [x.split("_", 1)[-1] for x in probe.labels]
        index = BirdNET.index_of(probe, labels, scientific)
    except TeacherUnavailable as exc:
        log(f"teacher: BirdNET unavailable ({exc}); training without it")
        return [None] * len(items), {}
    from tqdm import tqdm

    cols = [index.get(lab, -1) for lab in labels]
    out: list[np.ndarray | None] = []
    for it, f in tqdm(list(zip(items, feats)), desc="birdnet", file=sys.stderr):
        if f is None:
            out.append(None)
            continue
        logits = cached_file_logits(model, it.path)
        n = min(len(logits), len(f))
        z = np.full((len(f), len(labels)), np.nan, np.float32)
        for j, c in enumerate(cols):
            if c >= 0:
                z[:n, j] = logits[:n, c]
        out.append(z)
    log(f"teacher: BirdNET knows {len(index)} of {len(labels)} labels")
    return out, index


PROBE_FOLDS = 5
PROBE_STEPS = 200


def fit_probe_parameters(x: np.ndarray, y: np.ndarray, n_labels: int, seed: int, weight_decay: float = 1e-3
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features (full-batch Adam, class-balanced).

    Returns float32 ``(weight (d, n_labels), bias, mean, scale)``: logits are
    ``((x - mean) / scale) @ weight + bias``.
    """
    lin, mu, sd = _train_probe(x, y, n_labels, seed, weight_decay)
    return (lin.weight.detach().numpy().T.astype(np.float32).copy(), lin.bias.detach().numpy().astype(np.float32),
            mu.astype(np.float32), sd.astype(np.float32))


def _train_probe(x: np.ndarray, y: np.ndarray, n_labels: int, seed: int, weight_decay: float):
    import torch
    from torch.nn import functional as F

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-3
    xt = torch.from_numpy(((x - mu) / sd).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    w = torch.from_numpy((1.0 / np.bincount(y, minlength=n_labels)[y]).astype(np.float32))
    torch.manual_seed(seed)
    lin = torch.nn.Linear(x.shape[1], n_labels)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-3, weight_decay=weight_decay)
    for _ in range(PROBE_STEPS):
        opt.zero_grad()
        loss = (F.cross_entropy(lin(xt), yt, reduction="none") * w).sum() / w.sum()
        loss.backward()
        opt.step()
    return lin, mu, sd


def fit_probe(x: np.ndarray, y: np.ndarray, n_labels: int, seed: int, weight_decay: float = 1e-3):
    """:func:`fit_probe_parameters`'s model as ``predict(features) -> logits``."""
    import torch

    lin, mu, sd = _train_probe(x, y, n_labels, seed, weight_decay)

    def predict(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return lin(torch.from_numpy(((z - mu) / sd).astype(np.float32))).numpy()

    return predict


def probe_teacher(items: list[Item], feats: list, rmss: list, labels: list[str], seed: int,
                  log: Callable[[str], None]) -> tuple[list[np.ndarray | None], dict[str, int]]:
    """Window logits over ``labels`` of a linear probe on BirdNET's logits (see the module docstring).

    Training files get out-of-fold logits (:data:`PROBE_FOLDS` folds of their recordings); the
    others get the probe fitted on every training file.
    """
    from ml.teachers.birdnet import BirdNET, TeacherUnavailable, cached_file_logits, is_cached

    try:
        model = BirdNET() if not all(is_cached(it.path) for it, f in zip(items, feats) if f is not None) else None
    except TeacherUnavailable as exc:
        log(f"teacher: BirdNET unavailable ({exc}); training without it")
        return [None] * len(items), {}
    from tqdm import tqdm

    lab_index = {lab: i for i, lab in enumerate(labels)}
    z_all: list[np.ndarray | None] = []
    for it, f in tqdm(list(zip(items, feats)), desc="birdnet", file=sys.stderr):
        z_all.append(None if f is None else cached_file_logits(model, it.path)[: len(f)])
    train_files = [i for i, it in enumerate(items) if it.split == "train" and z_all[i] is not None]

    def windows_of(files: list[int]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for i in files:
            n = min(len(z_all[i]), len(rmss[i]))
            keep = np.flatnonzero(rmss[i][:n] >= SILENCE_RMS)
            keep = keep if keep.size else np.arange(n)
            xs.append(z_all[i][keep])
            ys.append(np.full(keep.size, lab_index[items[i].label]))
        return np.concatenate(xs).astype(np.float32), np.concatenate(ys)

    def logits_for(predict, i: int) -> np.ndarray:
        z = np.full((len(feats[i]), len(labels)), np.nan, np.float32)
        n = min(len(z_all[i]), len(feats[i]))
        z[:n] = predict(z_all[i][:n])
        return z

    out: list[np.ndarray | None] = [None] * len(items)
    groups = sorted({items[i].group for i in train_files})
    random.Random(seed).shuffle(groups)
    fold_of = {g: k % PROBE_FOLDS for k, g in enumerate(groups)}
    for k in tqdm(range(PROBE_FOLDS), desc="probe folds", file=sys.stderr):
        fit_files = [i for i in train_files if fold_of[items[i].group] != k]
        predict = fit_probe(*windows_of(fit_files), len(labels), seed + k)
        for i in train_files:
            if fold_of[items[i].group] == k:
                out[i] = logits_for(predict, i)
    predict = fit_probe(*windows_of(train_files), len(labels), seed + PROBE_FOLDS)
    for i, z in enumerate(z_all):
        if z is not None and items[i].split != "train":
            out[i] = logits_for(predict, i)
    log(f"teacher: linear probe on BirdNET logits, {len(train_files)} training files, {PROBE_FOLDS} folds")
    return out, dict(lab_index)


# --- training ----------------------------------------------------------------------------------

def augment(x, y_soft, rng: np.random.Generator, mixup: float):
    """Log-mel batch augmentation (torch, in place on a copy): see the module docstring."""
    import torch
    from torch.nn import functional as F

    x = x.clone()
    b, _, n_mels, frames = x.shape
    for i in range(b):
        shift = int(rng.integers(-2, 3))  # pitch shift: about +-1 semitone per 2 mel bins at 1-4 kHz
        if shift:
            x[i, 0] = torch.roll(x[i, 0], shift, dims=0)
            if shift > 0:
                x[i, 0, :shift] = x[i, 0, shift:shift + 1]
            else:
                x[i, 0, shift:] = x[i, 0, shift - 1:shift]
        rate = float(rng.uniform(0.85, 1.15))  # time stretch
        if abs(rate - 1) > 0.02:
            n = max(8, int(round(frames * rate)))
            s = F.interpolate(x[i: i + 1], size=(n_mels, n), mode="bilinear", align_corners=False)
            x[i] = s[0, :, :, :frames] if n >= frames else F.pad(s, (0, frames - n, 0, 0), mode="replicate")[0]
        if rng.random() < 0.5:  # noise: add white noise power below the window's level
            level = float(rng.uniform(-3.0, -1.0))
            x[i] = torch.logaddexp(x[i], torch.full_like(x[i], level) + 0.1 * torch.randn_like(x[i]))
        for _ in range(2):  # SpecAugment
            f0, fw = int(rng.integers(0, n_mels)), int(rng.integers(0, 8))
            x[i, 0, f0:f0 + fw] = x[i, 0].mean()
            t0, tw = int(rng.integers(0, frames)), int(rng.integers(0, max(2, frames // 11)))
            x[i, 0, :, t0:t0 + tw] = x[i, 0].mean()
    if mixup > 0 and b > 1:
        lam = float(rng.beta(mixup, mixup))
        lam = max(lam, 1 - lam)
        perm = torch.from_numpy(rng.permutation(b))
        x = lam * x + (1 - lam) * x[perm]
        y_soft = lam * y_soft + (1 - lam) * y_soft[perm]
    return x, y_soft


@dataclass
class Split:
    x: np.ndarray  # (n, mels, frames) float16
    y: np.ndarray  # (n,) int: the recording's label (class balancing)
    teacher: np.ndarray  # (n, C) teacher logits, NaN where unknown
    files: list[int]  # window -> file index
    soft: np.ndarray  # (n, C) label targets: one-hot, or uniform for background windows
    background: np.ndarray  # (n,) bool


def normalise(x: np.ndarray, scale: float) -> np.ndarray:
    x = x.astype(np.float32)
    return (x - x.mean(axis=(1, 2), keepdims=True)) / scale


def train_student(model_cfg, train: Split, teachers: list[np.ndarray], teacher_masks: list[np.ndarray],
                  n_labels: int, cfg: TrainConfig, input_scale: float, epochs: int, seed: int, desc: str,
                  init=None, online_teacher=None):
    """Train one PhiNet on ``train`` with the given teachers' tempered probabilities; ``init`` (a PhiNet
    of the same shapes, e.g. the full-precision twin of an XNOR student) gives its starting weights.
    ``online_teacher`` (a trained PhiNet, kept frozen in eval mode) replaces ``teachers``: its tempered
    probabilities on each augmented batch, the very input the student sees, are the KD target."""
    import torch
    from tqdm import tqdm

    from ml.distill import combine_teachers, distillation_loss
    from ml.models.phinet import PhiNet

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = PhiNet(model_cfg, n_labels)
    if init is not None:
        model.load_state_dict(init.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    counts = np.bincount(train.y, minlength=n_labels).astype(np.float64)
    sample_w = 1.0 / counts[train.y]
    sample_w /= sample_w.sum()
    n = len(train.y)
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.15)
    x_all = normalise(train.x, input_scale)
    if online_teacher is not None:
        online_teacher.eval()
        teachers, teacher_masks = [], []
    t_probs = [torch.from_numpy(t).float() for t in teachers]
    t_masks = [torch.from_numpy(m) for m in teacher_masks]
    bar = tqdm(total=total, desc=desc, file=sys.stderr, leave=False)
    model.train()
    for _ in range(epochs):
        order = rng.choice(n, size=n, p=sample_w)  # class-balanced sampling
        for s in range(steps_per_epoch):
            idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            xb = torch.from_numpy(x_all[idx])[:, None]
            yb = torch.from_numpy(train.y[idx]).long()
            soft = torch.from_numpy(train.soft[idx])
            if t_probs:
                tp = torch.stack([t[idx] for t in t_probs])
                tm = torch.stack([m[idx] for m in t_masks]) & ~torch.from_numpy(train.background[idx])[None, :]
                targets, has, _ = combine_teachers(tp, yb, cfg.teacher_mode, mask=tm)
                packed = torch.cat([soft, targets, has[:, None].float()], dim=1)
            elif online_teacher is not None:  # background windows keep their uniform target, as above
                packed = torch.cat([soft.float(), (~torch.from_numpy(train.background[idx][:, None])).float()], dim=1)
            else:
                packed = soft
            xb, packed = augment(xb, packed, rng, cfg.mixup)
            logits = model(xb)
            if online_teacher is not None:
                with torch.no_grad():
                    targets = torch.softmax(online_teacher(xb) / cfg.kd_temperature, dim=1)
                loss = distillation_loss(logits, yb, targets, cfg.kd_alpha, cfg.kd_temperature,
                                         teacher_mask=packed[:, -1] > 0.5, label_targets=packed[:, :n_labels])
            elif t_probs:
                label_t, targets, has = packed[:, :n_labels], packed[:, n_labels:2 * n_labels], packed[:, -1]
                targets = targets / targets.sum(dim=1, keepdim=True).clamp_min(1e-12)
                loss = distillation_loss(logits, yb, targets, cfg.kd_alpha, cfg.kd_temperature,
                                         teacher_mask=has > 0.5, label_targets=label_t)
            else:
                loss = distillation_loss(logits, yb, None, 0.0, 1.0, label_targets=packed)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    return model


def window_logits(model, mels: list[np.ndarray], input_scale: float) -> list[np.ndarray]:
    """Per file, (n_windows, C) logits of the (eval) model."""
    import torch

    out = []
    with torch.no_grad():
        for m in mels:
            out.append(model(torch.from_numpy(normalise(m, input_scale))[:, None]).numpy().astype(np.float64))
    return out


def evaluate_files(logits: list[np.ndarray], y: np.ndarray, labels: list[str], temperature: float) -> dict:
    from ml import metrics
    from ml.distill import file_probs

    p = file_probs(logits, temperature)
    pred = p.argmax(axis=1)
    conf = p.max(axis=1)
    correct = pred == y
    return {"n": int(len(y)), "accuracy": round(float(correct.mean()), 4),
            "macro_f1": round(metrics.macro_f1([labels[i] for i in y], [labels[i] for i in pred], labels), 4),
            "ece": round(metrics.expected_calibration_error(conf, correct), 4)}


def fit_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """Unknown threshold maximising (right answers - wrong answers) on validation files."""
    conf, correct = p.max(axis=1), p.argmax(axis=1) == y
    grid = np.linspace(0.05, 0.95, 91)
    score = [(correct & (conf >= t)).sum() - (~correct & (conf >= t)).sum() for t in grid]
    return float(grid[int(np.argmax(score))])


def load_student(path: str, labels: list[str], model_set: str, params: FeatureParams):
    """(runtime classifier, torch PhiNet, input scale) of a full-precision student file for ``--xnor-from``."""
    from ml.models.phinet import from_runtime
    from ml.runtime.classifier import load_classifier
    from ml.runtime.model_format import ModelFormatError

    try:
        clf = load_classifier(path)
    except ModelFormatError as exc:
        raise TrainError(f"--xnor-from: {exc}") from None
    if clf.architecture != "phinet" or clf.header["architecture"]["config"].get("binary"):
        raise TrainError(f"--xnor-from: {path} is not a full-precision phinet student.")
    if list(clf.labels) != labels or clf.model_set != model_set:
        raise TrainError(f"--xnor-from: {path} has labels/set {list(clf.labels)}/{clf.model_set}, "
                         f"the manifest gives {labels}/{model_set}.")
    if clf.feature_params != params:
        raise TrainError(f"--xnor-from: {path} was trained with other feature parameters ({clf.feature_params}).")
    return clf, from_runtime(clf), float(clf.header["architecture"]["input"]["scale"])


# --- the pipeline, stage by stage ------------------------------------------------------------------

@dataclass(frozen=True)
class TrainData:
    """The readable files of the manifest (each with its split), their window log-mels and RMS, the label
    set (sorted) and the stored teacher's window logits over it (None per file without them)."""
    items: list[Item]
    mels: list[np.ndarray]
    rms: list[np.ndarray]
    skipped: list[str]
    labels: list[str]
    params: FeatureParams
    teacher_logits: list[np.ndarray | None]
    teacher_index: dict[str, int]

    def files(self, split: str) -> list[int]:
        return [i for i, it in enumerate(self.items) if it.split == split]

    def label_of(self, i: int) -> int:
        return self.labels.index(self.items[i].label)


@dataclass(frozen=True)
class FileSet:
    """Evaluation files: per file, the log-mels of its sounding windows (all windows if none sounds), and labels."""
    mels: list[np.ndarray]
    y: np.ndarray


@dataclass(frozen=True)
class Teachers:
    """The stored teacher's tempered probabilities on the training windows (none, or one teacher) with the
    mask of windows it has an opinion on, its name, and its report (known labels, its own file metrics)."""
    probs: list[np.ndarray]
    masks: list[np.ndarray]
    names: list[str]
    report: dict


@dataclass(frozen=True)
class Generation:
    """One trained student and how it did; ``generation`` is its number, or ``"file VERSION"`` for a student
    read with ``--xnor-from``. ``train_probs`` (its tempered probabilities on the training windows, what it
    teaches) is set for a kept generation only."""
    generation: int | str
    model: Any
    temperature: float
    val: dict
    test: dict
    val_logits: list[np.ndarray]
    test_logits: list[np.ndarray]
    teachers: tuple[str, ...] = ()
    kept: bool = False
    train_probs: np.ndarray | None = None

    @property
    def name(self) -> str:
        """How a pupil names this teacher: ``gen N`` or the file's ``file VERSION``."""
        return self.generation if isinstance(self.generation, str) else f"gen {self.generation}"

    def report(self) -> dict:
        return {"generation": self.generation, "teachers": list(self.teachers), "temperature": self.temperature,
                "val": self.val, "test": self.test, "kept": self.kept}


@dataclass(frozen=True)
class Selection:
    """The student to export, every generation's report, and the ensemble of the kept ones (None below two)."""
    best: Generation
    generations: list[dict]
    ensemble: dict | None


@dataclass(frozen=True)
class Calibration:
    temperature: float
    unknown_threshold: float


@dataclass(frozen=True)
class Exported:
    """The exported student: where, as which version, its size and calibration, and what its header says."""
    path: Path
    version: str
    size: int
    calibration: Calibration
    encoding: str
    metrics: dict
    training: dict
    reliability_png: Path


def check_config(cfg: TrainConfig) -> None:
    """:class:`TrainError` for options that cannot train (checked before any file is read)."""
    if cfg.hop_length not in (160, 320, 480, 640):
        raise TrainError(f"hop_length must be one of 160, 320, 480, 640, got {cfg.hop_length}.")
    for name, allowed in XNOR_CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise TrainError(f"{name} must be one of {', '.join(allowed)}, got {getattr(cfg, name)!r}.")
    if cfg.xnor_from and not cfg.xnor:
        raise TrainError("--xnor-from trains an XNOR twin; it cannot be combined with --no-xnor.")


def load_data(cfg: TrainConfig, log: Callable[[str], None]) -> TrainData:
    """Manifest, split, features (unreadable files reported and left out) and the stored teacher's logits."""
    params = FeatureParams(hop_length=cfg.hop_length)
    items, _ = read_items(cfg)
    mels, rms, errors = load_features(items, params, cfg.workers, log)
    for e in errors:
        log(f"warning: {e}")
    keep = [i for i, f in enumerate(mels) if f is not None]
    items, mels, rms = [items[i] for i in keep], [mels[i] for i in keep], [rms[i] for i in keep]
    labels = sorted({it.label for it in items})
    if cfg.teacher == "birdnet":
        logits, index = teacher_scores(items, mels, labels, log)
    elif cfg.teacher == "birdnet-probe":
        logits, index = probe_teacher(items, mels, rms, labels, cfg.seed, log)
    else:
        logits, index = [None] * len(items), {}
    return TrainData(items, mels, rms, errors, labels, params, logits, index)


def weak_label_windows(data: TrainData, cfg: TrainConfig) -> Split:
    """Per training file, the ``windows_per_file`` sounding windows most likely to hold its label (the teacher's
    score, or 1-12 kHz activity where it has none) and the ``background_per_file`` least likely ones."""
    n_labels = len(data.labels)
    xs, ys, ts, wf, bg = [], [], [], [], []
    for i in data.files("train"):
        f, r, lab = data.mels[i], data.rms[i], data.label_of(i)
        sounding = np.flatnonzero(r >= SILENCE_RMS)
        if sounding.size == 0:
            continue
        tz = data.teacher_logits[i]
        if tz is not None and not np.isnan(tz[0, lab]):
            score = tz[sounding, lab]
        else:
            score = activity(f[sounding], data.params)
        order = np.argsort(-score, kind="stable")
        chosen = sounding[order[: cfg.windows_per_file]]
        n_bg = min(cfg.background_per_file, max(0, len(order) - cfg.windows_per_file - 2))
        background = sounding[order[::-1][:n_bg]] if n_bg else sounding[:0]  # the least likely windows
        picked = np.concatenate([chosen, background])
        xs.append(f[picked])
        ys.extend([lab] * len(picked))
        bg.extend([False] * len(chosen) + [True] * len(background))
        ts.append(tz[picked] if tz is not None else np.full((len(picked), n_labels), np.nan, np.float32))
        wf.extend([i] * len(picked))
    y_arr, bg_arr = np.array(ys), np.array(bg, dtype=bool)
    soft = np.eye(n_labels, dtype=np.float32)[y_arr]
    soft[bg_arr] = 1.0 / n_labels
    return Split(np.concatenate(xs), y_arr, np.concatenate(ts), wf, soft, bg_arr)


def input_scale_of(windows: Split) -> float:
    """The input normalisation: the standard deviation of (at most about 256) mean-removed training windows."""
    sample = normalise(windows.x[:: max(1, len(windows.y) // 256)], 1.0)
    return round(float(sample.std()), 3) or 1.0


def file_set(data: TrainData, split: str) -> FileSet:
    idx = data.files(split)
    mels = []
    for i in idx:
        s = data.rms[i] >= SILENCE_RMS
        mels.append(data.mels[i][s] if s.any() else data.mels[i])
    return FileSet(mels, np.array([data.label_of(i) for i in idx]))


def stored_teachers(data: TrainData, windows: Split, cfg: TrainConfig) -> Teachers:
    """The stored teacher as soft targets softmax(logit / T) over the labels it knows, with its report."""
    if not (any(t is not None for t in data.teacher_logits) and data.teacher_index):
        return Teachers([], [], [], {})
    z = windows.teacher
    known = ~np.isnan(z)
    zt = np.where(known, z, -np.inf) / cfg.kd_temperature
    zt = zt - np.nanmax(np.where(known, zt, np.nan), axis=1, keepdims=True)
    p = np.where(known, np.exp(zt), 0.0)
    p = p / p.sum(axis=1, keepdims=True)
    has = known[np.arange(len(windows.y)), windows.y]  # the teacher has an opinion when it knows the species

    def own_metrics(split: str) -> dict:  # file level, known species only
        ok = [i for i in data.files(split) if not np.isnan(data.teacher_logits[i][0, data.label_of(i)])]
        y = np.array([data.label_of(i) for i in ok])
        lg = [np.where(np.isnan(data.teacher_logits[i]), -1e9, data.teacher_logits[i]).astype(np.float64) for i in ok]
        return evaluate_files(lg, y, data.labels, 1.0)

    report = {cfg.teacher: {"known_labels": sorted(data.teacher_index), "val_known_species": own_metrics("val"),
                            "test_known_species": own_metrics("test"),
                            "train_window_agreement": round(float((p.argmax(1) == windows.y)[has].mean()), 4)}}
    return Teachers([p.astype(np.float32)], [has], [cfg.teacher], report)


def train_probabilities(model, windows: Split, input_scale: float, kd_temperature: float) -> np.ndarray:
    """softmax(logits / T) of ``model`` on the training windows: what it teaches a later student."""
    import torch

    with torch.no_grad():
        tl = model(torch.from_numpy(normalise(windows.x, input_scale))[:, None]).numpy()
    tz = tl / kd_temperature
    tp = np.exp(tz - tz.max(axis=1, keepdims=True))
    return (tp / tp.sum(1, keepdims=True)).astype(np.float32)


def fit_generation(g: int, mcfg, windows: Split, teachers: Teachers, previous: Generation | None, data: TrainData,
                   val: FileSet, test: FileSet, cfg: TrainConfig, input_scale: float) -> Generation:
    """Generation ``g``: a student taught by the stored teachers and the last kept generation, temperature
    fitted on validation files (not kept yet: see :func:`select`)."""
    from ml.distill import fit_temperature

    probs = list(teachers.probs) + ([previous.train_probs] if previous else [])
    masks = list(teachers.masks) + ([np.ones(len(windows.y), bool)] if previous else [])
    model = train_student(mcfg, windows, probs, masks, len(data.labels), cfg, input_scale, cfg.epochs,
                          cfg.seed + g, f"gen {g}")
    vl = window_logits(model, val.mels, input_scale)
    temp = fit_temperature(vl, val.y)
    tl = window_logits(model, test.mels, input_scale)
    return Generation(g, model, temp, evaluate_files(vl, val.y, data.labels, temp),
                      evaluate_files(tl, test.y, data.labels, temp), vl, tl,
                      teachers=tuple(teachers.names) + ((previous.name,) if previous else ()))


def improves(candidate: dict, previous: dict | None) -> bool:
    """A generation is kept when its validation macro-F1 is higher and its ECE no worse by more than 0.01."""
    return previous is None or (candidate["macro_f1"] > previous["macro_f1"]
                                and candidate["ece"] <= previous["ece"] + 0.01)


def ensemble_of(kept: list[Generation], val: FileSet, test: FileSet, labels: list[str]) -> dict | None:
    """File metrics of the mean of the kept generations' calibrated probabilities (None below two)."""
    from ml.distill import file_probs

    if len(kept) < 2:
        return None

    def mean_logits(logits_of: Callable[[Generation], list[np.ndarray]], n: int) -> list[np.ndarray]:
        return [np.log(np.mean([file_probs([logits_of(k)[i]], k.temperature)[0] for k in kept], axis=0) + 1e-12)[None]
                for i in range(n)]

    return {"members": [k.generation for k in kept],
            "val": evaluate_files(mean_logits(lambda k: k.val_logits, len(val.y)), val.y, labels, 1.0),
            "test": evaluate_files(mean_logits(lambda k: k.test_logits, len(test.y)), test.y, labels, 1.0)}


def select(mcfg, windows: Split, teachers: Teachers, data: TrainData, val: FileSet, test: FileSet,
           cfg: TrainConfig, log: Callable[[str], None], input_scale: float) -> Selection:
    """Born-again generations, each taught by the last kept one; the last kept generation is the best."""
    generations, kept = [], []
    for g in range(cfg.generations):
        gen = fit_generation(g, mcfg, windows, teachers, kept[-1] if kept else None, data, val, test, cfg,
                             input_scale)
        accept = improves(gen.val, kept[-1].val if kept else None)
        gen = replace(gen, temperature=round(gen.temperature, 4), kept=accept)
        log(f"generation {g}: val {gen.val} test {gen.test} -> {'kept' if accept else 'dropped'}")
        generations.append(gen.report())
        if accept:
            kept.append(replace(gen, train_probs=train_probabilities(gen.model, windows, input_scale,
                                                                     cfg.kd_temperature)))
    return Selection(kept[-1], generations, ensemble_of(kept, val, test, data.labels))


def student_from_file(cfg: TrainConfig, data: TrainData, windows: Split, val: FileSet, test: FileSet,
                      log: Callable[[str], None]):
    """(runtime classifier, the student as a kept :class:`Generation`, its input scale) for ``--xnor-from``."""
    clf, model, input_scale = load_student(cfg.xnor_from, data.labels, cfg.model_set, data.params)
    vl, tl = window_logits(model, val.mels, input_scale), window_logits(model, test.mels, input_scale)
    temp = clf.temperature
    student = Generation(f"file {clf.version}", model, temp, evaluate_files(vl, val.y, data.labels, temp),
                         evaluate_files(tl, test.y, data.labels, temp), vl, tl, kept=True,
                         train_probs=train_probabilities(model, windows, input_scale, cfg.kd_temperature))
    log(f"student {cfg.xnor_from}: val {student.val} test {student.test}")
    return clf, student, input_scale


def calibrate(best: Generation, val: FileSet) -> Calibration:
    """The best student's temperature and the unknown threshold fitted on validation files."""
    from ml.distill import file_probs

    return Calibration(best.temperature, fit_threshold(file_probs(best.val_logits, best.temperature), val.y))


def export(cfg: TrainConfig, data: TrainData, windows: Split, test: FileSet, best: Generation,
           calibration: Calibration, input_scale: float, student_file=None) -> Exported:
    """Write the best student to ``cfg.out`` with its reliability plot; with ``--xnor-from`` the student file
    stays as it is, and the twin takes its version, threshold and encoding."""
    from ml.distill import file_probs, reliability_png
    from ml.export import export_student
    from ml.models.phinet import count_parameters, macs_per_window

    out = Path(cfg.xnor_from) if student_file is not None else Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    version = cfg.version or f"{cfg.model_set}-phinet-{time.strftime('%Y.%m')}-s{cfg.seed}"
    metrics = {"test": best.test, "val": best.val, "parameters": count_parameters(best.model),
               "macs_per_window": macs_per_window(best.model, data.params.n_mels, windows.x.shape[2])}
    training = {"manifest": str(cfg.manifest), "seed": cfg.seed, "config": dict(asdict(cfg)),
                "generation": best.generation, "test_files": [str(data.items[i].path.name) for i in data.files("test")]}
    png = out.with_suffix(".reliability.png")
    if student_file is not None:
        return Exported(out, student_file.version, out.stat().st_size,
                        Calibration(calibration.temperature, student_file.unknown_threshold),
                        student_file.header["training"].get("weight_encoding", cfg.encoding), metrics, training, png)
    test_p = file_probs(best.test_logits, calibration.temperature)
    reliability_png(test_p.max(1), test_p.argmax(1) == test.y, png, f"{version} (test files)")
    size = export_student(best.model, out, encoding=cfg.encoding, labels=data.labels, model_set=cfg.model_set,
                          version=version, params=data.params, input_scale=input_scale,
                          temperature=calibration.temperature, unknown_threshold=calibration.unknown_threshold,
                          metrics=metrics, training=training)
    return Exported(out, version, size, calibration, cfg.encoding, metrics, training, png)


def fit_xnor_twin(cfg: TrainConfig, mcfg, data: TrainData, windows: Split, teachers: Teachers, best: Generation,
                  val: FileSet, test: FileSet, exported: Exported, input_scale: float) -> dict:
    """The binarised twin of the best student, distilled from it, written beside it; its report."""
    from ml.distill import file_probs, fit_temperature
    from ml.export import export_student
    from ml.models.phinet import count_parameters

    xcfg = replace(mcfg, binary=True, binary_depthwise=cfg.xnor_depthwise == "binary",
                   binary_shortcuts=cfg.xnor_shortcuts)
    model = best.model
    xmodel = train_student(xcfg, windows, list(teachers.probs) + [best.train_probs],
                           list(teachers.masks) + [np.ones(len(windows.y), bool)], len(data.labels), cfg, input_scale,
                           cfg.xnor_epochs, cfg.seed + 100, "xnor",
                           init=model if cfg.xnor_init == "student" else None,
                           online_teacher=model if cfg.xnor_teacher == "online" else None)
    xl = window_logits(xmodel, val.mels, input_scale)
    xtemp = fit_temperature(xl, val.y)
    xval = evaluate_files(xl, val.y, data.labels, xtemp)
    xtest = evaluate_files(window_logits(xmodel, test.mels, input_scale), test.y, data.labels, xtemp)
    xthr = fit_threshold(file_probs(xl, xtemp), val.y)
    out = exported.path
    xout = out.with_name(out.stem + "-xnor" + out.suffix)
    xsize = export_student(xmodel, xout, encoding=exported.encoding, labels=data.labels, model_set=cfg.model_set,
                           version=exported.version + "-xnor", params=data.params, input_scale=input_scale,
                           temperature=xtemp, unknown_threshold=xthr,
                           metrics={"test": xtest, "val": xval, "parameters": count_parameters(xmodel)},
                           training={**exported.training, "teachers": list(teachers.names) + [best.name]})
    fp32 = out.with_name(out.stem + "-fp32-twin.npz")
    twin_size = export_student(model, fp32, encoding="float32", labels=data.labels, model_set=cfg.model_set,
                               version=exported.version + "-fp32", params=data.params, input_scale=input_scale,
                               temperature=exported.calibration.temperature,
                               unknown_threshold=exported.calibration.unknown_threshold)
    fp32.unlink()
    return {"model": str(xout), "model_bytes": xsize, "val": xval, "test": xtest,
            "temperature": xtemp, "fp32_twin_bytes": twin_size,
            "size_ratio_vs_fp32_twin": round(twin_size / xsize, 2),
            # 4 bytes per weight, as XNOR-Net counts it; the file above compresses better when the
            # student was restored from float16 (--xnor-from): 13 mantissa bits are zero
            "size_ratio_vs_fp32_weights": round(4 * exported.metrics["parameters"] / xsize, 2),
            "size_ratio_vs_shipped_twin": round(exported.size / xsize, 2)}


def train(cfg: TrainConfig, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Run the whole pipeline (module docstring); return the JSON report (also written beside the model)."""
    import torch

    from ml.models.phinet import PhiNetConfig

    torch.set_num_threads(max(1, min(2, cfg.threads)))
    t_start = time.perf_counter()
    check_config(cfg)
    data = load_data(cfg, log)
    windows = weak_label_windows(data, cfg)
    input_scale = input_scale_of(windows)
    log(f"data: {len(data.files('train'))} train files -> {len(windows.y)} windows ({int(windows.background.sum())} "
        f"background), {len(data.files('val'))} val, {len(data.files('test'))} test files; {len(data.labels)} labels; "
        f"input scale {input_scale}")
    val, test = file_set(data, "val"), file_set(data, "test")
    teachers = stored_teachers(data, windows, cfg)
    student_file = None
    if cfg.xnor_from:
        student_file, best, input_scale = student_from_file(cfg, data, windows, val, test, log)
        mcfg = best.model.cfg
        selection = Selection(best, [], None)
    else:
        mcfg = PhiNetConfig(alpha=cfg.alpha, beta=cfg.beta, t0=cfg.t0, blocks=cfg.blocks, embed_dim=cfg.embed_dim)
        selection = select(mcfg, windows, teachers, data, val, test, cfg, log, input_scale)
    calibration = calibrate(selection.best, val)
    exported = export(cfg, data, windows, test, selection.best, calibration, input_scale, student_file)
    report = {"model": str(exported.path), "model_version": exported.version, "model_bytes": exported.size,
              "labels": data.labels, "parameters": exported.metrics["parameters"],
              "macs_per_window": exported.metrics["macs_per_window"], "temperature": exported.calibration.temperature,
              "unknown_threshold": exported.calibration.unknown_threshold, "generations": selection.generations,
              "ensemble": selection.ensemble, "teachers": teachers.report, "skipped_files": data.skipped,
              "reliability_png": str(exported.reliability_png)}
    if cfg.xnor:
        report["xnor"] = fit_xnor_twin(cfg, mcfg, data, windows, teachers, selection.best, val, test, exported,
                                       input_scale)
        log(f"xnor: val {report['xnor']['val']} test {report['xnor']['test']}, {report['xnor']['model_bytes']} bytes")
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    report_path = exported.path.with_suffix(".report.json")
    if student_file is not None:  # keep the student's own report
        report_path = exported.path.with_name(exported.path.stem + "-xnor.report.json")
        report["xnor_from"] = str(cfg.xnor_from)
    report["report"] = str(report_path)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    return report

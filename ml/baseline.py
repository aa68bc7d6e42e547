"""Train the baseline classifier (``logmel-stats-mlp``) on the shared bird and city-sound data.

Data (``--data-root``, normally ``../shared/data``):

* ``birds-pr/manifest.csv`` -- 22 Puerto Rican bird species, weakly labelled recordings of up
  to 60 s. Split **by recording**: the manifest's ``split`` column when it names
  train/val/test, else a seeded split per species (sorted by xeno-canto id, shuffled with
  ``seed``): 20 % test and 20 % validation (at least one recording each), the rest train.
  Weak labels: from a training recording only the windows whose peak contrast (how far the
  1-12 kHz bands rise above their own noise floor) is in the recording's upper half are kept.
* ``urban-us8k/manifest.csv`` -- 10 UrbanSound8K classes, folds 1-3. Train on fold 1 and half
  of fold 3 (split by freesound id), validate on the other half of fold 3, test on fold 2.

Features are computed exactly as at inference (:func:`ml.runtime.baseline_model.window_summaries`
on audio decoded by :func:`ml.runtime.audio.decode`), cached under ``var/cache/``. The MLP
(one hidden ReLU layer) is trained with torch (AdamW, class-balanced loss weights, dropout),
exported to numpy, temperature-scaled on the validation files (file prediction = mean of
window probabilities, as at inference) and given the ``unknown_threshold`` that maximises
"right minus wrong" answers on the validation files. Test metrics go into the header.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from ml import metrics
from ml.manifest import read_manifest
from ml.runtime import audio
from ml.runtime.baseline_model import ARCHITECTURE, SUMMARY, summary_dim, window_summaries
from ml.runtime.classifier import softmax
from ml.runtime.classifier import SILENCE_RMS
from ml.runtime.features import FeatureParams, hz_to_mel, mel_to_hz, window_starts
from ml.runtime.model_format import save_model

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "fixtures" / "models" / "baseline.npz"
DEFAULT_CACHE = REPO_ROOT / "var" / "cache" / "baseline"
BIRDS, URBAN = "birds-pr", "urban-us8k"
CACHE_LAYOUT = "summary+rms/1"  # bump when file_features() changes what it returns
LICENCE_NOTE = ("Trained on xeno-canto recordings (CC BY-NC-SA 3.0/4.0, CC BY-SA 4.0) and UrbanSound8K "
                "(CC BY-NC 3.0): the weights are for non-commercial use, share-alike.")


@dataclass(frozen=True)
class Hyper:
    hidden: int = 128
    epochs: int = 120
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-3
    dropout: float = 0.3
    input_noise: float = 0.1
    keep_active_fraction: float = 0.5
    test_fraction: float = 0.2
    val_fraction: float = 0.2
    seed: int = 20261121


@dataclass
class Item:
    dataset: str
    path: Path
    label: str
    group: str  # recording id (birds) or freesound id (urban): never split across sets
    split: str = ""  # train / val / test
    meta: dict = field(default_factory=dict)


# --- data ------------------------------------------------------------------------------------

def bird_items(data_root: Path, hyper: Hyper) -> list[Item]:
    rows = read_manifest(data_root / BIRDS / "manifest.csv", "species").rows
    items = [Item(BIRDS, r.path, r.label, r.recording, meta={"split": r.meta.get("split", "")}) for r in rows]
    given = {i.meta["split"] for i in items}
    if given <= {"train", "val", "test"} and given >= {"train", "val", "test"}:
        for it in items:
            it.split = it.meta["split"]
        return items
    rng = random.Random(hyper.seed)
    by_species: dict[str, list[Item]] = {}
    for it in items:
        by_species.setdefault(it.label, []).append(it)
    for species in sorted(by_species):
        group = sorted(by_species[species], key=lambda it: int(it.group) if it.group.isdigit() else it.group)
        rng.shuffle(group)
        n = len(group)
        n_test = max(1, round(hyper.test_fraction * n))
        n_val = max(1, round(hyper.val_fraction * n))
        for k, it in enumerate(group):
            it.split = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return items


def urban_items(data_root: Path, hyper: Hyper) -> list[Item]:
    rows = read_manifest(data_root / URBAN / "manifest.csv", "label").rows
    items = []
    rng = random.Random(hyper.seed + 1)
    fold3_groups = sorted({r.meta["freesound_id"] for r in rows if r.meta["fold"] == "3"})
    rng.shuffle(fold3_groups)
    fold3_val = set(fold3_groups[: len(fold3_groups) // 2])
    for r in rows:
        fold = r.meta["fold"]
        split = {"1": "train", "2": "test"}.get(fold)
        if fold == "3":
            split = "val" if r.meta["freesound_id"] in fold3_val else "train"
        if split is None:
            continue
        items.append(Item(URBAN, r.path, r.label, r.meta["freesound_id"], split, meta={"fold": fold}))
    return items


def file_features(path: str, params: FeatureParams) -> np.ndarray:
    """(n_windows, summary_dim + 1) features of one audio file, decoded as at inference.

    The last column is each window's RMS (silent windows are left out of a file's mean at
    inference, see :meth:`ml.runtime.classifier.WindowedClassifier.file_probabilities`).
    """
    samples, _ = audio.decode(Path(path).read_bytes(), sample_rate=params.sample_rate)
    win = int(params.window_seconds * params.sample_rate)
    rms = [np.sqrt(np.mean(np.square(samples[s: s + win], dtype=np.float64))) for s in window_starts(samples.size, params)]
    return np.concatenate([window_summaries(samples, params), np.array(rms, np.float32)[:, None]], axis=1)


def _code_fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("runtime/baseline_model.py", "runtime/batch_features.py", "runtime/features.py", "runtime/audio.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def compute_features(items: list[Item], params: FeatureParams, cache_dir: Path | None,
                     workers: int = 2, log: Callable[[str], None] = print) -> list[np.ndarray]:
    """Per-item window features, from the cache when the files, code and parameters are unchanged."""
    key = hashlib.sha256(json.dumps({
        "files": [(str(i.path), i.path.stat().st_size, i.path.stat().st_mtime_ns) for i in items],
        "params": params.to_dict(), "summary": SUMMARY, "code": _code_fingerprint(), "layout": CACHE_LAYOUT,
    }, sort_keys=True).encode()).hexdigest()[:20]
    cache = cache_dir / f"features-{key}.npz" if cache_dir else None
    if cache and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            flat, offsets = npz["features"], npz["offsets"]
        log(f"features: {len(items)} files from cache {cache.name}")
        return [flat[offsets[i]: offsets[i + 1]] for i in range(len(items))]
    t0 = time.perf_counter()
    paths = [str(i.path) for i in items]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            feats = list(pool.map(file_features, paths, [params] * len(paths), chunksize=8))
    else:
        feats = [file_features(p, params) for p in paths]
    log(f"features: {len(items)} files in {time.perf_counter() - t0:.1f} s")
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        offsets = np.cumsum([0] + [len(f) for f in feats])
        tmp = cache.with_name(cache.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, features=np.concatenate(feats), offsets=offsets)
        os.replace(tmp, cache)
    return feats


def activity_scores(features: np.ndarray, params: FeatureParams, fmin: float = 1000.0) -> np.ndarray:
    """Per-window peak contrast averaged over the mel bands above ``fmin`` (bird-song range)."""
    n_mels = params.n_mels
    centres = mel_to_hz(np.linspace(hz_to_mel(params.fmin), hz_to_mel(params.fmax), n_mels + 2))[1:-1]
    bands = centres >= fmin
    peak = features[:, 2 * n_mels: 3 * n_mels]
    return peak[:, bands].mean(axis=1)


def select_active(features: np.ndarray, params: FeatureParams, keep_fraction: float) -> np.ndarray:
    """Indices of the windows in the upper ``keep_fraction`` of activity (at least one)."""
    score = activity_scores(features, params)
    n_keep = max(1, int(np.ceil(keep_fraction * len(score))))
    return np.sort(np.argsort(-score, kind="stable")[:n_keep])


# --- model -----------------------------------------------------------------------------------

def train_mlp(x: np.ndarray, y: np.ndarray, weights: np.ndarray, n_labels: int, hyper: Hyper,
              log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """Train standardize -> dense(relu) -> dense on window features; return float32 numpy arrays."""
    import torch  # training only; inference is numpy

    torch.manual_seed(hyper.seed)
    torch.set_num_threads(1)  # tiny model: threads only add contention
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    xs = torch.tensor((x - mean) / scale, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long)
    wt = torch.tensor(weights / weights.mean(), dtype=torch.float32)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hyper.hidden), torch.nn.ReLU(), torch.nn.Dropout(hyper.dropout),
        torch.nn.Linear(hyper.hidden, n_labels))
    opt = torch.optim.AdamW(model.parameters(), lr=hyper.lr, weight_decay=hyper.weight_decay)
    steps_per_epoch = int(np.ceil(len(xs) / hyper.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hyper.lr, total_steps=hyper.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(hyper.seed)
    for epoch in range(hyper.epochs):
        model.train()
        order = torch.randperm(len(xs), generator=gen)
        total = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * hyper.batch_size: (b + 1) * hyper.batch_size]
            xb = xs[idx]
            if hyper.input_noise:
                xb = xb + hyper.input_noise * torch.randn(xb.shape, generator=gen)
            loss = (torch.nn.functional.cross_entropy(model(xb), yt[idx], reduction="none") * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if (epoch + 1) % 40 == 0 or epoch == 0:
            log(f"  epoch {epoch + 1:3d}/{hyper.epochs}: loss {total / len(xs):.4f}")
    first, last = model[0], model[3]
    return {
        "input.mean": mean.astype(np.float32), "input.scale": scale.astype(np.float32),
        "dense_0.weight": first.weight.detach().numpy().T.copy(), "dense_0.bias": first.bias.detach().numpy().copy(),
        "dense_1.weight": last.weight.detach().numpy().T.copy(), "dense_1.bias": last.bias.detach().numpy().copy(),
    }


LAYERS = [
    {"type": "standardize", "mean": "input.mean", "scale": "input.scale"},
    {"type": "dense", "weight": "dense_0.weight", "bias": "dense_0.bias", "activation": "relu"},
    {"type": "dense", "weight": "dense_1.weight", "bias": "dense_1.bias", "activation": "none"},
]


def storage_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What is written to the file: dense weights as float16, standardisation as float32."""
    return {k: v.astype(np.float16 if k.startswith("dense") else np.float32) for k, v in arrays.items()}


def forward(features: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    from ml.runtime.baseline_model import mlp_forward

    return mlp_forward(features, LAYERS, {k: v.astype(np.float32) for k, v in arrays.items()})


def file_probs(logits_per_file: list[np.ndarray], temperature: float) -> np.ndarray:
    """(n_files, n_labels): mean over each file's (sounding) windows of softmax(logits / T), as at inference."""
    return np.stack([softmax(lg.astype(np.float64) / temperature, axis=1).mean(axis=0) for lg in logits_per_file])


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(groups: list[tuple[list[np.ndarray], np.ndarray]]) -> float:
    """Temperature minimising the mean (over data sets) file-level NLL on validation files."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    losses = [np.mean([nll(file_probs(lg, t), y) for lg, y in groups]) for t in grid]
    return float(grid[int(np.argmin(losses))])


def fit_unknown_threshold(groups: list[tuple[np.ndarray, np.ndarray]], lo: float = 0.05, hi: float = 0.95) -> float:
    """Threshold on the top probability maximising (right - wrong) / n, averaged over data sets."""
    grid = np.round(np.arange(lo, hi + 1e-9, 0.01), 2)
    scores = []
    for t in grid:
        s = []
        for probs, y in groups:
            top = probs.argmax(axis=1)
            keep = probs.max(axis=1) >= t
            s.append((np.sum(keep & (top == y)) - np.sum(keep & (top != y))) / len(y))
        scores.append(np.mean(s))
    return float(grid[int(np.argmax(scores))])


def report(probs: np.ndarray, y: np.ndarray, labels: list[str], classes: list[str], threshold: float) -> dict:
    order = np.argsort(-probs, axis=1)[:, :5]
    ranked = [[labels[j] for j in row] for row in order]
    return metrics.summarise([labels[i] for i in y], ranked, probs.max(axis=1), classes,
                             unknown=probs.max(axis=1) < threshold)


# --- the whole recipe --------------------------------------------------------------------------

def train_baseline(data_root: Path = DEFAULT_DATA_ROOT, out: Path | None = DEFAULT_OUT,
                   cache_dir: Path | None = DEFAULT_CACHE, hyper: Hyper = Hyper(),
                   model_version: str | None = None, workers: int = 2,
                   log: Callable[[str], None] = print) -> tuple[dict, dict[str, np.ndarray]]:
    """Train, calibrate, evaluate and (when ``out``) save the baseline; return (header, arrays)."""
    t_start = time.perf_counter()
    data_root = Path(data_root)
    params = FeatureParams()
    items = bird_items(data_root, hyper) + urban_items(data_root, hyper)
    bird_labels = sorted({i.label for i in items if i.dataset == BIRDS})
    urban_labels = sorted({i.label for i in items if i.dataset == URBAN})
    labels = bird_labels + urban_labels
    index = {lab: k for k, lab in enumerate(labels)}
    table = compute_features(items, params, cache_dir, workers=workers, log=log)
    feats = [t[:, :-1] for t in table]
    sounding = [t[:, -1] >= SILENCE_RMS for t in table]

    # training windows: active windows of bird recordings, every window of city clips
    xs, ys = [], []
    for it, f, m in zip(items, feats, sounding):
        if it.split != "train" or not m.any():
            continue
        keep = select_active(f, params, hyper.keep_active_fraction) if it.dataset == BIRDS else np.arange(len(f))
        keep = keep[m[keep]] if m[keep].any() else keep
        xs.append(f[keep])
        ys.append(np.full(len(keep), index[it.label]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    # class-balanced: every class carries the same total weight, split evenly over its windows
    counts = np.bincount(y, minlength=len(labels)).astype(np.float64)
    weights = 1.0 / counts[y]
    log(f"training on {len(x)} windows from {sum(it.split == 'train' for it in items)} files, "
        f"{len(labels)} labels, {x.shape[1]} features")
    fp = train_mlp(x, y, weights, len(labels), hyper, log=log)
    stored = storage_arrays(fp)

    def split_logits(dataset: str, split: str) -> tuple[list[np.ndarray], np.ndarray]:
        sel = [(it, f[m] if m.any() else f) for it, f, m in zip(items, feats, sounding)
               if it.dataset == dataset and it.split == split]
        return [forward(f, stored) for _, f in sel], np.array([index[it.label] for it, _ in sel])

    val = [split_logits(BIRDS, "val"), split_logits(URBAN, "val")]
    temperature = fit_temperature(val)
    val_probs = [(file_probs(lg, temperature), yy) for lg, yy in val]
    threshold = fit_unknown_threshold(val_probs)
    log(f"temperature {temperature:.3f}, unknown threshold {threshold:.2f}")

    results = {}
    for name, dataset, split, classes in [
        ("birds_val", BIRDS, "val", bird_labels), ("urban_val_fold3", URBAN, "val", urban_labels),
        ("birds_test", BIRDS, "test", bird_labels), ("urban_test_fold2", URBAN, "test", urban_labels),
    ]:
        lg, yy = split_logits(dataset, split)
        results[name] = report(file_probs(lg, temperature), yy, labels, classes, threshold)
        log(f"{name}: {json.dumps(results[name])}")
    seconds = time.perf_counter() - t_start
    n_params = int(sum(v.size for k, v in stored.items()))

    def counts_of(dataset: str) -> dict:
        return {s: sum(1 for it in items if it.dataset == dataset and it.split == s) for s in ("train", "val", "test")}

    now = datetime.now(timezone.utc)
    header = {
        "model_version": model_version or f"baseline-{now:%Y.%m}-1",
        "architecture": {"name": ARCHITECTURE, "summary": SUMMARY, "input_dim": summary_dim(params.n_mels),
                         "hidden": hyper.hidden, "parameters": n_params, "layers": LAYERS},
        "feature_params": params.to_dict(),
        "labels": labels,
        "label_groups": {"birds": bird_labels, "urban": urban_labels},
        "temperature": round(temperature, 4),
        "unknown_threshold": threshold,
        "aggregation": "mean",
        "metrics": {**results, "definitions": (
            "file-level: mean of the window probabilities over the file's sounding windows (as at inference); "
            "accuracy/top3/macro_f1 score the arg-max label whether or not it is below unknown_threshold; "
            "macro_f1 over the data set's own labels; ece with 10 equal-width bins on the top probability; "
            "unknown_rate = share below unknown_threshold; accuracy_when_known = accuracy on the rest")},
        "training": {
            "trained_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(seconds, 1),
            "code": "ml/baseline.py (python -m ml train-baseline)",
            "hyperparameters": asdict(hyper),
            "data": [
                {"name": BIRDS, "manifest": f"{BIRDS}/manifest.csv", "label_column": "species", "files": counts_of(BIRDS),
                 "split": "by recording, seeded per species: 20% test, 20% val (>= 1 each), rest train; "
                          f"training keeps each recording's most active {hyper.keep_active_fraction:.0%} of windows",
                 "val_recordings": sorted(it.group for it in items if it.dataset == BIRDS and it.split == "val"),
                 "test_recordings": sorted(it.group for it in items if it.dataset == BIRDS and it.split == "test"),
                 "source": "xeno-canto.org", "licence": "CC BY-NC-SA 3.0/4.0, CC BY-SA 4.0"},
                {"name": URBAN, "manifest": f"{URBAN}/manifest.csv", "label_column": "label", "files": counts_of(URBAN),
                 "split": "train fold 1 + half of fold 3 (by freesound id); val other half of fold 3; test fold 2",
                 "source": "UrbanSound8K (Salamon, Jacoby, Bello 2014)", "licence": "CC BY-NC 3.0"},
            ],
            "licence": LICENCE_NOTE,
        },
    }
    if out is not None:
        size = save_model(out, header, stored)
        log(f"saved {out} ({size} bytes, {n_params} parameters) in {seconds:.0f} s")
    return header, stored

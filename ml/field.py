"""The field model: one PhiNet for every label of the given manifests plus ``no_target``, densely distilled
from the server's verifier (``python -m ml train-field``; ``python -m ml cv --model-kind field``).

Recipe, per training file (every sounding window of every recording, not a chosen few):

1. **Teacher** (:class:`WindowTeacher`): the verifier's head (:mod:`ml.verifier`) applied to each window's
   BirdNET logits instead of the file's pooled ones: ``a * BirdNET logit + c`` for the labels BirdNET names,
   ``b * log softmax(probe) + d`` for the others; ``softmax`` gives the window's distribution ``q`` over the
   manifests' labels. The probe is fitted on the training files only (:func:`ml.verifier.fit_probe_arrays`);
   the four scalars are the shipped verifier's.
2. **Presence** of the file's label ``y`` in each window (:func:`presence`): BirdNET's ``sigmoid`` score for
   ``y`` where BirdNET names it, else ``q(y)``; relative to the file's best window (a weak label says the sound
   is *somewhere* in the file): ``pi = min(1, s / (0.5 * max s))``. A file of at most two windows (a city clip,
   a short cut) holds its label throughout: ``pi = 1``.
3. **Targets** over ``labels + [no_target]``: the label target puts ``pi`` on ``y`` and ``1 - pi`` on
   ``no_target``; the distillation target is ``[pi * q, 1 - pi]``. Loss: ``kd_alpha * T^2 * KL + (1 - kd_alpha)
   * CE`` (:func:`ml.distill.distillation_loss`).
4. **Training**: each epoch draws ``windows_per_epoch`` windows, every label equally likely; log-mel
   augmentation and mixup as :func:`ml.train.augment`; AdamW with a one-cycle schedule.
5. **Calibration** on the validation files, through the runtime's own aggregation
   (:func:`ml.runtime.classifier.aggregate_windows`, ``"mean-target"``: windows dominated by ``no_target`` are
   left out of a file's mean): the temperature by file-level NLL, the unknown threshold by right minus wrong.
6. **Export** as a runtime ``phinet`` file with ``aggregation: "mean-target"``.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ml.runtime.classifier import NO_TARGET, SILENCE_RMS, aggregate_windows
from ml.runtime.features import FeatureParams

AGGREGATION = "mean-target"


@dataclass(frozen=True)
class FieldConfig:
    """Hyper-parameters of the field recipe."""

    alpha: float = 0.75  # PhiNet width
    blocks: int = 5
    epochs: int = 12
    windows_per_epoch: int = 6000
    batch_size: int = 48
    lr: float = 3e-3
    weight_decay: float = 1e-3
    kd_alpha: float = 0.5
    kd_temperature: float = 2.0
    mixup: float = 0.2
    hop_length: int = 640
    probe_windows_per_file: int = 8
    encoding: str = "float16"
    seed: int = 20261206
    threads: int = 1


@dataclass(frozen=True)
class FieldData:
    """Per file: window log-mels (float16), window RMS, BirdNET window logits; and the label of each file."""

    mels: list[np.ndarray]
    rms: list[np.ndarray]
    birdnet: list[np.ndarray]
    labels_of_files: list[str]
    labels: list[str]  # sorted target labels (no_target not among them)
    scientific: dict[str, str]
    params: FeatureParams

    def y(self, i: int) -> int:
        return self.labels.index(self.labels_of_files[i])

    def sounding(self, i: int) -> np.ndarray:
        """Indices of the file's sounding windows present in both the log-mels and BirdNET's logits."""
        n = min(len(self.mels[i]), len(self.birdnet[i]), len(self.rms[i]))
        s = np.flatnonzero(self.rms[i][:n] >= SILENCE_RMS)
        return s if s.size else np.arange(n)


def load_field_data(rows, hop_length: int, workers: int, log: Callable[[str], None]
                    ) -> tuple[FieldData, list[int], list[dict]]:
    """(data over the readable rows, their indices in ``rows``, skipped files as ``{file, code, message}``)."""
    from ml.teachers.birdnet import logits_of_files
    from ml.train import Item, load_features

    items = [Item(r.path.resolve(), r.label, r.recording) for r in rows]
    mels, rms, _ = load_features(items, FeatureParams(hop_length=hop_length), workers, log)
    windows, errors = logits_of_files([r.path for r in rows], log, every=500)
    ok = [i for i in range(len(rows)) if mels[i] is not None and windows[i] is not None and len(windows[i])]
    skipped = [{"file": str(rows[i].path), "code": (errors[i] or ("file_unreadable", ""))[0],
                "message": (errors[i] or ("", "unreadable"))[1]} for i in range(len(rows)) if i not in set(ok)]
    labels = sorted({rows[i].label for i in ok})
    data = FieldData([mels[i] for i in ok], [rms[i] for i in ok], [windows[i] for i in ok],
                     [rows[i].label for i in ok], labels,
                     {r.label: r.meta.get("scientific", "") for r in rows}, FeatureParams(hop_length=hop_length))
    return data, ok, skipped


# --- the teacher ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowTeacher:
    """The verifier's head applied per window (see the module docstring)."""

    labels: tuple[str, ...]
    columns: dict[str, int]  # BirdNET's column of each label it names
    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    scalars: tuple[float, float, float, float]  # known_scale, known_bias, probe_scale, probe_bias

    def window_probabilities(self, window_logits: np.ndarray) -> np.ndarray:
        """(n_windows, n_labels) the teacher's distribution of each window."""
        from ml.verifier import log_softmax, softmax, stack_logits

        L = np.asarray(window_logits, dtype=np.float32)
        probe = ((L - self.mean) / self.scale) @ self.weight + self.bias
        known = np.full((len(L), len(self.labels)), np.nan)
        for j, lab in enumerate(self.labels):
            if lab in self.columns:
                known[:, j] = L[:, self.columns[lab]]
        return softmax(stack_logits(known, log_softmax(probe), *self.scalars))


def shipped_scalars() -> tuple[float, float, float, float]:
    """The four scalars of the shipped verifier (``fixtures/models/verifier.npz``)."""
    from ml.runtime.model_format import load_model_file
    from ml.verifier import DEFAULT_VERIFIER_PATH

    header, _ = load_model_file(DEFAULT_VERIFIER_PATH)
    arch = header["architecture"]
    return tuple(float(arch[k]) for k in ("known_scale", "known_bias", "probe_scale", "probe_bias"))


def fit_teacher(data: FieldData, fit_idx: Sequence[int], cfg: FieldConfig) -> WindowTeacher:
    """The window teacher with its probe fitted on ``fit_idx`` files (their teaching windows)."""
    from ml.teachers.birdnet import label_columns
    from ml.verifier import fit_probe_arrays

    columns = label_columns(data.labels, data.scientific)
    y = np.array([data.y(i) for i in fit_idx])
    w, b, m, s = fit_probe_arrays([data.birdnet[i][data.sounding(i)] for i in fit_idx], y, data.labels, columns,
                                  cfg.probe_windows_per_file, cfg.seed)
    return WindowTeacher(tuple(data.labels), columns, w, b, m, s, shipped_scalars())


def presence(window_logits: np.ndarray, q: np.ndarray, y: int, column: int | None) -> np.ndarray:
    """(n_windows,) how surely each window holds label ``y`` relative to the file's best window (module docstring)."""
    from ml.teachers.birdnet import sigmoid

    if len(q) <= 2:
        return np.ones(len(q))
    s = sigmoid(np.asarray(window_logits, np.float64)[:, column]) if column is not None else q[:, y]
    top = float(s.max())
    if top <= 0:
        return np.ones(len(q))
    return np.minimum(1.0, s / (0.5 * top))


@dataclass(frozen=True)
class DenseSet:
    """Every sounding window of the training files with its targets over ``labels + [no_target]``."""

    x: np.ndarray  # (n, mels, frames) float16
    label_targets: np.ndarray  # (n, C + 1)
    kd_targets: np.ndarray  # (n, C + 1)
    y: np.ndarray  # (n,) the file's label (class balancing)


def dense_set(data: FieldData, idx: Sequence[int], teacher: WindowTeacher) -> DenseSet:
    n_labels = len(data.labels)
    xs, lt, kt, ys = [], [], [], []
    for i in idx:
        s = data.sounding(i)
        y = data.y(i)
        q = teacher.window_probabilities(data.birdnet[i][s])
        pi = presence(data.birdnet[i][s], q, y, teacher.columns.get(data.labels[y]))
        lab = np.zeros((len(s), n_labels + 1), np.float32)
        lab[:, y], lab[:, n_labels] = pi, 1 - pi
        kd = np.concatenate([pi[:, None] * q, (1 - pi)[:, None]], axis=1).astype(np.float32)
        xs.append(data.mels[i][s])
        lt.append(lab)
        kt.append(kd)
        ys.append(np.full(len(s), y))
    return DenseSet(np.concatenate(xs), np.concatenate(lt), np.concatenate(kt), np.concatenate(ys))


# --- training ------------------------------------------------------------------------------------

def train_student(train: DenseSet, n_outputs: int, cfg: FieldConfig, input_scale: float,
                  log: Callable[[str], None]):
    """The PhiNet trained on ``train`` (see the module docstring), in eval mode."""
    import torch

    from ml.distill import distillation_loss
    from ml.models.phinet import PhiNet, PhiNetConfig
    from ml.train import augment, normalise

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = PhiNet(PhiNetConfig(alpha=cfg.alpha, blocks=cfg.blocks), n_outputs)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    counts = np.bincount(train.y).astype(np.float64)
    p = 1.0 / counts[train.y]
    p /= p.sum()
    steps = max(1, math.ceil(cfg.windows_per_epoch / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps, pct_start=0.15)
    t0 = time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        total = 0.0
        for _ in range(steps):
            idx = rng.choice(len(train.y), size=cfg.batch_size, p=p)
            xb = torch.from_numpy(normalise(train.x[idx], input_scale))[:, None]
            packed = torch.from_numpy(np.concatenate([train.label_targets[idx], train.kd_targets[idx]], axis=1))
            xb, packed = augment(xb, packed, rng, cfg.mixup)
            lab, kd = packed[:, :n_outputs], packed[:, n_outputs:]
            kd = kd / kd.sum(dim=1, keepdim=True).clamp_min(1e-12)
            # the teacher's distribution sharpened/softened to the KD temperature
            kd_t = kd.clamp_min(1e-8) ** (1.0 / cfg.kd_temperature)
            kd_t = kd_t / kd_t.sum(dim=1, keepdim=True)
            loss = distillation_loss(model(xb), lab.argmax(dim=1), kd_t, cfg.kd_alpha, cfg.kd_temperature,
                                     label_targets=lab)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        log(f"field: epoch {epoch + 1}/{cfg.epochs} loss {total / steps:.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()
    return model


def window_probabilities(model, mels: list[np.ndarray], input_scale: float, temperature: float = 1.0
                         ) -> list[np.ndarray]:
    """Per file, (n_windows, C + 1) softmax(logits / T) of the torch model."""
    from ml.train import window_logits

    out = []
    for z in window_logits(model, mels, input_scale):
        z = z / temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))
        out.append(e / e.sum(axis=1, keepdims=True))
    return out


def file_probabilities(logits: list[np.ndarray], temperature: float, no_target: int) -> np.ndarray:
    """(n_files, C + 1) the runtime's ``mean-target`` aggregation of each file's window logits at ``temperature``."""
    out = []
    for z in logits:
        z = z / temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))
        w = e / e.sum(axis=1, keepdims=True)
        out.append(aggregate_windows(w, np.ones(len(w), bool), AGGREGATION, no_target))
    return np.array(out)


def calibrate(model, data: FieldData, val_idx: Sequence[int], input_scale: float) -> tuple[float, float]:
    """(temperature by file-level NLL, unknown threshold by right minus wrong) on the validation files."""
    from ml.train import fit_threshold, window_logits

    nt = len(data.labels)
    logits = window_logits(model, [data.mels[i][data.sounding(i)] for i in val_idx], input_scale)
    y = np.array([data.y(i) for i in val_idx])
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 60))
    nll = [-np.mean(np.log(file_probabilities(logits, t, nt)[np.arange(len(y)), y] + 1e-12)) for t in grid]
    temperature = float(grid[int(np.argmin(nll))])
    threshold = fit_threshold(file_probabilities(logits, temperature, nt)[:, :nt], y)
    return round(temperature, 4), threshold


def fit_field(data: FieldData, fit_idx: Sequence[int], val_idx: Sequence[int], cfg: FieldConfig, out: str | Path,
              *, version: str, model_set: str | None = None, log: Callable[[str], None] = lambda line: None) -> dict:
    """Train, calibrate and export one field model (``out``); returns its report."""
    import torch

    from ml.export import export_student
    from ml.models.phinet import count_parameters, macs_per_window
    from ml.train import normalise

    torch.set_num_threads(max(1, min(2, cfg.threads)))
    t0 = time.perf_counter()
    teacher = fit_teacher(data, fit_idx, cfg)
    log(f"field: teacher probe fitted on {len(fit_idx)} files ({time.perf_counter() - t0:.0f} s)")
    train = dense_set(data, fit_idx, teacher)
    sample = normalise(train.x[:: max(1, len(train.y) // 256)], 1.0)
    input_scale = round(float(sample.std()), 3) or 1.0
    log(f"field: {len(train.y)} training windows, no_target mass {train.label_targets[:, -1].mean():.3f}")
    model = train_student(train, len(data.labels) + 1, cfg, input_scale, log)
    temperature, threshold = calibrate(model, data, val_idx, input_scale)
    labels = list(data.labels) + [NO_TARGET]
    metrics = {"parameters": count_parameters(model),
               "macs_per_window": macs_per_window(model, data.params.n_mels, train.x.shape[2])}
    training = {"recipe": "field-dense-verifier-kd", "config": asdict(cfg), "fit_files": len(fit_idx),
                "val_files": len(val_idx), "train_windows": int(len(train.y))}
    size = export_student(model, out, encoding=cfg.encoding, labels=labels, model_set=model_set, version=version,
                          params=data.params, input_scale=input_scale, temperature=temperature,
                          unknown_threshold=threshold, metrics=metrics, training=training, aggregation=AGGREGATION)
    return {"model": str(out), "model_version": version, "model_bytes": size, "labels": labels,
            "temperature": temperature, "unknown_threshold": threshold, **metrics, **training,
            "seconds": round(time.perf_counter() - t0, 1)}


def train_field(manifests: Sequence[str | Path], out: str | Path, cfg: FieldConfig, *, label_column: str | None = None,
                version: str | None = None, workers: int = 1,
                log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """``python -m ml train-field``: the field model from every readable file of ``manifests``: about four fifths
    of the recordings (stratified, grouped by recording) train it, the rest calibrate it."""
    from ml.cv import inner_split
    from ml.manifest import read_manifests

    rows = list(read_manifests(manifests, label_column).rows)
    data, ok, skipped = load_field_data(rows, cfg.hop_length, workers, log)
    groups = [rows[i].recording for i in ok]
    fit_idx, val_idx = inner_split(data.labels_of_files, groups, np.arange(len(ok)), cfg.seed)
    version = version or f"field-phinet-{time.strftime('%Y.%m')}-s{cfg.seed}"
    report = fit_field(data, fit_idx.tolist(), val_idx.tolist(), cfg, out, version=version, log=log)
    report.update({"manifests": [str(m) for m in manifests], "skipped": skipped})
    return report

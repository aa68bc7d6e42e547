"""The server's verifier (DESIGN §2): BirdNET V2.4's window logits with a head over our labels.

BirdNET names 19 of the 22 Puerto Rico birds; it lacks Elfin Woods Warbler, Yellow-shouldered Blackbird and
Puerto Rican Amazon, and the ten city sounds. The head keeps BirdNET's own opinion where it has one and
learns the rest:

* **Windows.** BirdNET's (n_windows, 6,522) logits on our 3-s / 1.5-s grid at 48 kHz; digitally silent
  windows (RMS below :data:`ml.runtime.classifier.SILENCE_RMS`) are left out unless every window is silent.
* **Pooling** (:func:`pool_top_k`): per column, the mean of the ``top_k`` highest windows (a weak label
  says the sound is *somewhere* in the file).
* **Labels BirdNET names**: ``z = known_scale * pooled BirdNET logit + known_bias``.
* **Other labels**: a linear probe (multinomial logistic regression on the standardised 6,522 window logits,
  trained on the windows most likely to hold each training file's label) gives window logits over every
  label; pooled the same way and turned into log-probabilities ``q - logsumexp(q)``, a label's
  ``z = probe_scale * log p + probe_bias``.
* **Probabilities**: ``softmax(z)``. The four scalars are fitted by file-level NLL on *out-of-fold* probe
  outputs (the probe cross-fitted over groups of the training files), so they weigh the probe as it
  behaves on recordings it has not seen; the probe shipped is then refitted on every training file.

The head is stored as a runtime model file (:mod:`ml.runtime.model_format`, architecture ``birdnet-head``:
the arrays ``probe.weight`` (6,522, n_labels), ``probe.bias``, ``probe.mean``, ``probe.scale``; the scalars,
``top_k`` and the BirdNET column of each label it names in ``architecture``), so it is versioned, hashed
and refused when tampered with. BirdNET itself comes from the ``teachers`` extra
(:mod:`ml.teachers.birdnet`); without it :func:`load_verifier` raises
:class:`~ml.teachers.birdnet.TeacherUnavailable`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ml.runtime.classifier import MODELS_DIR, SILENCE_RMS, UNKNOWN, Prediction, as_mono
from ml.runtime.model_format import ModelFormatError, load_model_file, save_model, verify_model_file

ARCHITECTURE = "birdnet-head"
DEFAULT_VERIFIER_PATH = MODELS_DIR / "verifier.npz"
VERIFIER_ENV = "DAWN_VERIFIER_PATH"
ARRAYS = ("probe.weight", "probe.bias", "probe.mean", "probe.scale")


# --- the head's arithmetic (numpy only) -----------------------------------------------------------

def pool_top_k(z: np.ndarray, k: int) -> np.ndarray:
    """(d,) mean of the ``min(k, n)`` highest rows of ``z`` (n, d), per column."""
    z = np.asarray(z, dtype=np.float64)
    k = max(1, min(int(k), len(z)))
    return np.sort(z, axis=0)[-k:].mean(axis=0)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(z))


@dataclass(frozen=True)
class Head:
    """The fitted head: labels, the BirdNET column of each label BirdNET names, the probe and the scalars."""

    labels: tuple[str, ...]
    birdnet_columns: dict[str, int]
    weight: np.ndarray  # (6522, n_labels) float32
    bias: np.ndarray  # (n_labels,)
    mean: np.ndarray  # (6522,)
    scale: np.ndarray  # (6522,)
    top_k: int = 3
    known_scale: float = 1.0
    known_bias: float = 0.0
    probe_scale: float = 1.0
    probe_bias: float = 0.0
    unknown_threshold: float = 0.0

    def probe_window_logits(self, window_logits: np.ndarray) -> np.ndarray:
        """(n_windows, n_labels) probe logits."""
        x = (np.asarray(window_logits, dtype=np.float32) - self.mean) / self.scale
        return x @ self.weight + self.bias

    def parts(self, window_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pooled BirdNET logits of the labels BirdNET names, NaN elsewhere; pooled probe log-probabilities)."""
        L = np.asarray(window_logits, dtype=np.float64)
        known = np.full(len(self.labels), np.nan)
        for j, lab in enumerate(self.labels):
            col = self.birdnet_columns.get(lab)
            if col is not None:
                known[j] = pool_top_k(L[:, col:col + 1], self.top_k)[0]
        return known, log_softmax(pool_top_k(self.probe_window_logits(L), self.top_k))

    def file_logits(self, window_logits: np.ndarray) -> np.ndarray:
        """(n_labels,) the file's logits from its sounding windows' BirdNET logits (see the module docstring)."""
        known, logp = self.parts(window_logits)
        return stack_logits(known, logp, self.known_scale, self.known_bias, self.probe_scale, self.probe_bias)

    def file_probabilities(self, window_logits: np.ndarray) -> np.ndarray:
        return softmax(self.file_logits(window_logits))


def stack_logits(known: np.ndarray, logp: np.ndarray, known_scale: float, known_bias: float,
                 probe_scale: float, probe_bias: float) -> np.ndarray:
    """Logits: BirdNET's pooled logit where it names the label (``known`` not NaN), the probe's elsewhere."""
    known = np.asarray(known, dtype=np.float64)
    return np.where(np.isnan(known), probe_scale * np.asarray(logp) + probe_bias,
                    known_scale * np.nan_to_num(known) + known_bias)


# --- fitting ------------------------------------------------------------------------------------------

def teaching_windows(window_logits: np.ndarray, column: int | None, k: int) -> np.ndarray:
    """Indices of the ``k`` windows most likely to hold the label: BirdNET's logit for it when BirdNET names
    it (``column``), else the window's highest logit of any class (the most sound-like windows)."""
    L = np.asarray(window_logits)
    score = L[:, column] if column is not None else L.max(axis=1)
    return np.sort(np.argsort(-score, kind="stable")[:k])


def fit_probe_arrays(window_logits: Sequence[np.ndarray], y: np.ndarray, labels: Sequence[str],
                     birdnet_columns: dict[str, int], windows_per_file: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weight, bias, mean, scale) of the probe trained on each file's :func:`teaching_windows`."""
    from ml.train import fit_probe_parameters

    xs, ys = [], []
    for L, k in zip(window_logits, y):
        idx = teaching_windows(L, birdnet_columns.get(labels[k]), windows_per_file)
        xs.append(np.asarray(L, dtype=np.float32)[idx])
        ys.append(np.full(len(idx), k))
    return fit_probe_parameters(np.concatenate(xs), np.concatenate(ys), len(labels), seed)


def fit_scalars(known: np.ndarray, logp: np.ndarray, y: np.ndarray, steps: int = 400) -> tuple[float, float, float, float]:
    """(known_scale, known_bias, probe_scale, probe_bias) minimising the file-level NLL (a weak pull to 1, 0, 1, 0)."""
    import torch
    from torch.nn import functional as F

    k = torch.from_numpy(np.nan_to_num(known).astype(np.float64))
    is_known = torch.from_numpy(~np.isnan(known))
    lp = torch.from_numpy(np.asarray(logp, dtype=np.float64))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    start = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    p = torch.nn.Parameter(start.clone())
    opt = torch.optim.Adam([p], lr=3e-2)
    for _ in range(steps):
        opt.zero_grad()
        z = torch.where(is_known, p[0] * k + p[1], p[2] * lp + p[3])
        loss = F.cross_entropy(z, yt) + 1e-2 * ((p - start) ** 2).sum()
        loss.backward()
        opt.step()
    a, c, b, d = (float(v) for v in p.detach())
    return a, c, b, d


def coverage_threshold(confidence: Sequence[float], correct: Sequence[bool], target: float = 0.9) -> float:
    """The lowest confidence threshold whose answered files (confidence >= it) are at least ``target``
    accurate: the highest coverage that keeps that accuracy. 1.0 (answer almost nothing) when none does."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    if conf.size == 0:
        return 1.0
    order = np.argsort(-conf, kind="stable")
    acc = np.cumsum(hit[order]) / np.arange(1, conf.size + 1)
    ok = np.flatnonzero(acc >= target)
    if ok.size == 0:
        return 1.0
    j = ok[-1]
    return float(np.round(conf[order][j] - 1e-9, 6))


def fit_head(window_logits: Sequence[np.ndarray], labels_of_files: Sequence[str], groups: Sequence[str],
             labels: Sequence[str], birdnet_columns: dict[str, int], *, seed: int = 20261206,
             windows_per_file: int = 8, top_k: int = 3, cross_fit: int = 3,
             log: Callable[[str], None] = lambda line: None) -> tuple[Head, np.ndarray]:
    """The head fitted on these files, and their out-of-fold file probabilities (n_files, n_labels).

    The probe is cross-fitted over ``cross_fit`` folds of ``groups`` (files of one group stay together); the
    four scalars and the head's unknown threshold (:func:`coverage_threshold`, 90 % on answered files) are
    fitted on those out-of-fold outputs; the shipped probe is refitted on every file.
    """
    labels = list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    y = np.array([index[lab] for lab in labels_of_files])
    g = np.asarray(groups)
    uniq = np.array(sorted(set(g.tolist())))
    rng = np.random.default_rng(seed)
    fold_of_group = dict(zip(rng.permutation(uniq).tolist(), np.arange(len(uniq)) % max(2, cross_fit)))
    fold = np.array([fold_of_group[v] for v in g.tolist()])
    known = np.full((len(y), len(labels)), np.nan)
    logp = np.zeros((len(y), len(labels)))
    for f in range(max(2, cross_fit)):
        test, train = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        if not len(test) or not len(train):
            continue
        w, b, m, s = fit_probe_arrays([window_logits[i] for i in train], y[train], labels, birdnet_columns,
                                      windows_per_file, seed + f)
        part = Head(tuple(labels), dict(birdnet_columns), w, b, m, s, top_k)
        for i in test:
            known[i], logp[i] = part.parts(window_logits[i])
        log(f"verifier: cross-fit {f + 1}/{max(2, cross_fit)}")
    a, c, bb, d = fit_scalars(known, logp, y)
    oof = softmax(stack_logits(known, logp, a, c, bb, d))
    threshold = coverage_threshold(oof.max(axis=1), oof.argmax(axis=1) == y)
    w, b, m, s = fit_probe_arrays(list(window_logits), y, labels, birdnet_columns, windows_per_file, seed)
    head = Head(tuple(labels), dict(birdnet_columns), w, b, m, s, top_k, a, c, bb, d, threshold)
    return head, oof


# --- the file ---------------------------------------------------------------------------------------

def save_head(path: str | os.PathLike, head: Head, *, version: str, metrics: dict, training: dict,
              combination: dict | None = None) -> int:
    """Write ``head`` as a runtime model file (architecture ``birdnet-head``); returns its size."""
    from ml.teachers.birdnet import MODEL_NAME, window_params

    header = {
        "model_version": version,
        "architecture": {"name": ARCHITECTURE, "layers": [], "birdnet_model": MODEL_NAME,
                         "birdnet_columns": {k: int(v) for k, v in head.birdnet_columns.items()},
                         "top_k": int(head.top_k), "known_scale": head.known_scale, "known_bias": head.known_bias,
                         "probe_scale": head.probe_scale, "probe_bias": head.probe_bias},
        "feature_params": window_params().to_dict(), "labels": list(head.labels), "temperature": 1.0,
        "unknown_threshold": float(head.unknown_threshold), "aggregation": "mean",
        "metrics": metrics, "training": training, "combination": combination or {},
    }
    arrays = {"probe.weight": head.weight.astype(np.float32), "probe.bias": head.bias.astype(np.float32),
              "probe.mean": head.mean.astype(np.float32), "probe.scale": head.scale.astype(np.float32)}
    return save_model(path, header, arrays)


def head_from_file(header: dict, arrays: dict) -> Head:
    """The :class:`Head` of a loaded ``birdnet-head`` model file; :class:`ModelFormatError` when it is not one."""
    arch = header["architecture"]
    if arch.get("name") != ARCHITECTURE:
        raise ModelFormatError(f"Not a verifier head: architecture is {arch.get('name')!r}.")
    missing = [n for n in ARRAYS if n not in arrays]
    if missing:
        raise ModelFormatError(f"The verifier head lacks {', '.join(missing)}.")
    labels = tuple(header["labels"])
    w = np.asarray(arrays["probe.weight"], np.float32)
    if w.ndim != 2 or w.shape[1] != len(labels) or arrays["probe.bias"].shape != (len(labels),) \
            or arrays["probe.mean"].shape != (w.shape[0],) or arrays["probe.scale"].shape != (w.shape[0],):
        raise ModelFormatError("The verifier head's arrays do not match its labels.")
    cols = arch.get("birdnet_columns")
    if not isinstance(cols, dict) or any(lab not in labels or not isinstance(c, int) or not 0 <= c < w.shape[0]
                                         for lab, c in cols.items()):
        raise ModelFormatError("The verifier head's birdnet_columns are invalid.")
    try:
        scalars = [float(arch[k]) for k in ("known_scale", "known_bias", "probe_scale", "probe_bias")]
        top_k = int(arch["top_k"])
    except (KeyError, TypeError, ValueError):
        raise ModelFormatError("The verifier head lacks its scalars or top_k.") from None
    if top_k < 1 or not all(np.isfinite(scalars)):
        raise ModelFormatError("The verifier head's scalars or top_k are invalid.")
    return Head(labels, dict(cols), w, np.asarray(arrays["probe.bias"], np.float32),
                np.asarray(arrays["probe.mean"], np.float32), np.asarray(arrays["probe.scale"], np.float32),
                top_k, *scalars, float(header["unknown_threshold"]))


class Verifier:
    """BirdNET plus a head: ``file_probabilities(samples, sample_rate)`` over :attr:`labels`."""

    def __init__(self, header: dict, arrays: dict, birdnet=None):
        self.header = header
        self.head = head_from_file(header, arrays)
        self.version: str = header["model_version"]
        self.labels: tuple[str, ...] = self.head.labels
        self.unknown_threshold: float = self.head.unknown_threshold
        self.combination: dict = dict(header.get("combination") or {})
        if birdnet is None:
            from ml.teachers.birdnet import BirdNET

            birdnet = BirdNET()
        self.birdnet = birdnet
        if len(self.birdnet.labels) != self.head.weight.shape[0]:
            raise ModelFormatError(f"The verifier head expects {self.head.weight.shape[0]} BirdNET classes, "
                                   f"the installed BirdNET has {len(self.birdnet.labels)}.")

    def window_logits(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """BirdNET's logits of the sounding windows (every window when all are silent)."""
        from ml.runtime.audio import resample
        from ml.runtime.features import window_starts
        from ml.teachers.birdnet import SAMPLE_RATE, WINDOW, window_params

        x = resample(as_mono(samples), int(sample_rate), SAMPLE_RATE)
        L = self.birdnet.window_logits(x)
        rms = np.array([np.sqrt(np.mean(np.square(x[s: s + WINDOW], dtype=np.float64)))
                        for s in window_starts(x.size, window_params())])
        n = min(len(L), len(rms))
        sounding = rms[:n] >= SILENCE_RMS
        return L[:n][sounding] if sounding.any() else L

    def file_probabilities(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.head.file_probabilities(self.window_logits(samples, sample_rate))

    def decide(self, probs: np.ndarray, top_k: int = 5) -> Prediction:
        return prediction_of(self.labels, probs, self.unknown_threshold, self.version, top_k)

    def classify(self, samples: np.ndarray, sample_rate: int, top_k: int = 5) -> Prediction:
        return self.decide(self.file_probabilities(samples, sample_rate), top_k)


def prediction_of(labels: Sequence[str], probs: np.ndarray, threshold: float, version: str, top_k: int = 5
                  ) -> Prediction:
    """A :class:`Prediction` from file probabilities: ranked best first, "unknown" below ``threshold``."""
    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, kind="stable")[:max(1, top_k)]
    ranked = tuple((labels[i], float(probs[i])) for i in order)
    unknown = ranked[0][1] < threshold
    return Prediction(label=UNKNOWN if unknown else ranked[0][0], confidence=ranked[0][1], ranked=ranked,
                      unknown=unknown, model_version=version)


def default_verifier_path() -> Path:
    env = os.environ.get(VERIFIER_ENV)
    return Path(env) if env else DEFAULT_VERIFIER_PATH


def load_verifier(path: str | os.PathLike | None = None, *, expected_sha256: str | None = None,
                  expected_version: str | None = None, birdnet=None) -> Verifier:
    """The verifier of ``path`` (default :func:`default_verifier_path`). Raises
    :class:`~ml.teachers.birdnet.TeacherUnavailable` without the ``teachers`` extra and
    :class:`ModelFormatError` for a missing, corrupt or tampered file."""
    p = Path(path) if path is not None else default_verifier_path()
    if expected_sha256 is not None or expected_version is not None:
        header, arrays = verify_model_file(p, expected_sha256=expected_sha256, expected_version=expected_version)
    else:
        header, arrays = load_model_file(p)
    return Verifier(header, arrays, birdnet)

"""The one classifier interface used by the phone, the server and the command line.

Every model -- the numpy baseline (``logmel-stats-mlp``), the PhiNet students (``phinet``) -- is a runtime model file
(:mod:`ml.runtime.model_format`) whose header names an *architecture*. :func:`load_classifier`
reads the file and hands it to the builder registered for that architecture name, so callers
never depend on a concrete class::

    clf = load_classifier()                     # the shipped default model
    pred = clf.classify(samples, sample_rate)   # -> Prediction
    pred.label, pred.confidence, pred.ranked

How a file is classified (the same for every architecture):

1. the samples are resampled to the model's ``feature_params.sample_rate``;
2. they are cut into 3-s windows with a 1.5-s hop (:func:`ml.runtime.features.windows`;
   a clip shorter than one window gives one window);
3. the architecture turns each window into logits; probabilities are
   ``softmax(logits / temperature)``, one row per window (:meth:`predict_windows`);
4. **the file's probabilities are the mean of its window probabilities** (``aggregation: "mean"``),
   leaving out digitally silent windows (RMS below :data:`SILENCE_RMS`, -80 dBFS); a file that
   is silent throughout gets uniform probabilities (and so comes out ``"unknown"``). A model with a
   :data:`NO_TARGET` label (``aggregation: "mean-target"``) also leaves out the windows where
   ``no_target`` has at least half the probability (unless every window is such), and its file
   probabilities give ``no_target`` 0, the rest renormalised (:func:`aggregate_windows`);
5. with ``allowed``, labels outside that set are dropped and the rest renormalised to sum to 1;
6. if the top probability is below the calibrated ``unknown_threshold`` the label is
   ``"unknown"`` (``ranked`` still lists the best guesses).

Every architecture ends in a dense *head* over an embedding: :meth:`embed_windows` returns the
per-window embedding (the head's input), :meth:`head` its ``{"weight": (d, n_labels), "bias":
(n_labels,)}``, :meth:`with_head` the same backbone with another head (federated fine-tuning)
and :meth:`save` writes a runtime model file. ``model_set`` ("birds" or "urban") says which
label family a model serves (files without it count as "birds").
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Protocol, runtime_checkable

import numpy as np

from ml.runtime.audio import resample
from ml.runtime.features import FeatureParams, window_starts
from ml.runtime.model_format import (NO_TARGET, ModelFormatError, feature_params_of, load_model_file, save_model,
                                     verify_model_file)

UNKNOWN = "unknown"
SILENCE_RMS = 1e-4  # -80 dBFS: windows quieter than this carry no sound to classify
DEFAULT_MODEL_ENV = "DAWN_MODEL_PATH"
MODELS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "field.npz"
# Shipped students per model set (``python -m ml train``, see ml/README.md).
DEFAULT_MODELS = {"birds": MODELS_DIR / "birds.npz", "urban": MODELS_DIR / "urban.npz"}


@dataclass(frozen=True)
class Prediction:
    label: str  # top label, or "unknown"
    confidence: float  # probability of the top label (after any ``allowed`` renormalisation)
    ranked: tuple[tuple[str, float], ...]  # top-k (label, probability), best first
    unknown: bool  # True when confidence < the model's unknown threshold
    model_version: str

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": round(float(self.confidence), 6),
            "unknown": self.unknown,
            "ranked": [{"label": lab, "probability": round(float(p), 6)} for lab, p in self.ranked],
            "model_version": self.model_version,
        }


@runtime_checkable
class Classifier(Protocol):
    version: str
    model_set: str
    labels: tuple[str, ...]
    feature_params: FeatureParams
    unknown_threshold: float
    header: dict

    def embed_windows(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n_windows, d) float32 embeddings: the input of the final dense head."""
        ...

    def head(self) -> dict[str, np.ndarray]:
        """``{"weight": (d, n_labels), "bias": (n_labels,)}`` float32 copies of the final layer."""
        ...

    def with_head(self, head: dict, version: str) -> "Classifier":
        """The same backbone with another head and model version."""
        ...

    def save(self, path: str | os.PathLike) -> int:
        """Write this model as a runtime model file; return its size in bytes."""
        ...

    def predict_windows(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n_windows, n_labels) calibrated probabilities, one row per 3-s window."""
        ...

    def classify(self, samples: np.ndarray, sample_rate: int, top_k: int = 5,
                 allowed: set[str] | None = None, *, unknown_threshold: float | None = None) -> Prediction:
        """The file's prediction: mean of the window probabilities (see the module docstring)."""
        ...


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def aggregate_windows(probs: np.ndarray, sounding: np.ndarray, aggregation: str = "mean",
                      no_target: int | None = None) -> np.ndarray:
    """A file's probabilities from its windows' ``probs`` (n_windows, n_labels) and ``sounding`` mask.

    ``"mean"``: the mean over the sounding windows (uniform when none sounds). ``"mean-target"`` (``no_target``
    is the column of :data:`NO_TARGET`): the mean over the sounding windows where ``no_target`` has less than
    half the probability (all sounding windows when none has), then ``no_target`` set to 0 and the rest
    renormalised, so a file's answer is always one of the target labels.
    """
    probs = np.asarray(probs, dtype=np.float64)
    sounding = np.asarray(sounding, dtype=bool)
    n_labels = probs.shape[1]
    if not sounding.any():
        p = np.full(n_labels, 1.0 / n_labels)
    elif aggregation == "mean-target" and no_target is not None:
        target = sounding & (probs[:, no_target] < 0.5)
        p = probs[target if target.any() else sounding].mean(axis=0)
    else:
        p = probs[sounding].mean(axis=0)
    if aggregation == "mean-target" and no_target is not None:
        p = p.copy()
        p[no_target] = 0.0
        total = p.sum()
        p = p / total if total > 0 else np.where(np.arange(n_labels) == no_target, 0.0, 1.0 / (n_labels - 1))
    return p


def as_mono(samples: np.ndarray) -> np.ndarray:
    """Validate an audio buffer and return it as 1-D float32 (stereo ``(n, 2)`` is averaged)."""
    x = np.asarray(samples)
    if x.ndim == 2 and x.shape[1] <= 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"Expected mono samples of shape (n,), got {x.shape}.")
    if x.size == 0:
        raise ValueError("No samples to classify.")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"Samples must be numeric, got {x.dtype}.")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError("Samples hold NaN or infinite values.")
    return x


class WindowedClassifier:
    """Shared behaviour of every architecture: resampling, calibration, aggregation, ``allowed``.

    Subclasses implement :meth:`window_embeddings` on samples already at the model's rate and
    set :attr:`head_arrays` to the names of the final dense layer's weight ``(d, n_labels)`` and
    bias arrays; logits are ``embedding @ weight + bias``.
    """

    head_arrays: tuple[str, str] = ("", "")

    def __init__(self, header: dict, arrays: dict[str, np.ndarray] | None = None):
        self.header = header
        self.storage: dict[str, np.ndarray] = dict(arrays or {})  # as stored in the file (for save)
        self.version: str = header["model_version"]
        self.model_set: str = header.get("model_set") or "birds"
        self.labels: tuple[str, ...] = tuple(header["labels"])
        self.feature_params: FeatureParams = feature_params_of(header)
        self.temperature: float = float(header["temperature"])
        self.unknown_threshold: float = float(header["unknown_threshold"])
        self.architecture: str = header["architecture"]["name"]
        self._index = {lab: i for i, lab in enumerate(self.labels)}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.architecture} {self.version} ({len(self.labels)} labels)>"

    def window_embeddings(self, samples: np.ndarray) -> np.ndarray:
        """(n_windows, d) embeddings for mono float32 samples at the model's rate."""
        raise NotImplementedError

    def window_logits(self, samples: np.ndarray) -> np.ndarray:
        """(n_windows, n_labels) uncalibrated logits for mono float32 samples at the model's rate."""
        head = self._head_f32()
        return self.window_embeddings(samples) @ head["weight"] + head["bias"]

    def _head_f32(self) -> dict[str, np.ndarray]:
        cached = getattr(self, "_head_cache", None)
        if cached is None:
            w_name, b_name = self.head_arrays
            if w_name not in self.storage or b_name not in self.storage:
                raise ModelFormatError(f"{self.architecture}: head arrays {self.head_arrays} are missing.")
            cached = {"weight": np.asarray(self.storage[w_name], dtype=np.float32),
                      "bias": np.asarray(self.storage[b_name], dtype=np.float32)}
            self._head_cache = cached
        return cached

    def embed_windows(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.window_embeddings(self.to_model_rate(samples, sample_rate)).astype(np.float32, copy=False)

    def head(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._head_f32().items()}

    def with_head(self, head: dict, version: str) -> "Classifier":
        """Same backbone, new head (stored as float32); ``version`` must be a non-empty string."""
        if not isinstance(version, str) or not version.strip():
            raise ValueError("version must be a non-empty string.")
        if not isinstance(head, dict) or set(head) != {"weight", "bias"}:
            raise ValueError("head must be a dict with exactly 'weight' and 'bias'.")
        old = self._head_f32()
        weight = np.asarray(head["weight"], dtype=np.float32)
        bias = np.asarray(head["bias"], dtype=np.float32)
        if weight.shape != old["weight"].shape or bias.shape != old["bias"].shape:
            raise ValueError(f"head shapes {weight.shape}/{bias.shape} differ from the model's "
                             f"{old['weight'].shape}/{old['bias'].shape}.")
        if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
            raise ValueError("head holds NaN or infinite values.")
        header = {k: v for k, v in self.header.items() if k not in ("arrays", "weights_sha256")}
        header["model_version"] = version
        header["parent_version"] = self.version
        arrays = dict(self.storage)
        arrays[self.head_arrays[0]], arrays[self.head_arrays[1]] = weight, bias
        header["arrays"] = {n: {"shape": list(a.shape), "dtype": a.dtype.name} for n, a in arrays.items()}
        return build_classifier(header, arrays)

    def save(self, path: str | os.PathLike) -> int:
        header = {k: v for k, v in self.header.items() if k not in ("arrays", "weights_sha256")}
        return save_model(path, header, self.storage)

    def to_model_rate(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Validated mono float32 samples resampled to ``feature_params.sample_rate``."""
        x = as_mono(samples)
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}.")
        return resample(x, int(sample_rate), self.feature_params.sample_rate)

    def _window_probs(self, x: np.ndarray) -> np.ndarray:
        logits = self.window_logits(x).astype(np.float64)
        return softmax(logits / self.temperature, axis=1)

    def predict_windows(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        return self._window_probs(self.to_model_rate(samples, sample_rate))

    def window_rms(self, x: np.ndarray) -> np.ndarray:
        """RMS of each analysis window (over its real samples) of ``x`` at the model's rate."""
        win = int(self.feature_params.window_seconds * self.feature_params.sample_rate)
        return np.array([np.sqrt(np.mean(np.square(x[s: s + win], dtype=np.float64)))
                         for s in window_starts(x.size, self.feature_params)])

    def file_probabilities(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n_labels,) file probabilities: :func:`aggregate_windows` of the non-silent windows (uniform if none)."""
        x = self.to_model_rate(samples, sample_rate)
        probs = self._window_probs(x)
        sounding = self.window_rms(x) >= SILENCE_RMS
        return aggregate_windows(probs, sounding[: len(probs)], self.header.get("aggregation", "mean"),
                                 self._index.get(NO_TARGET))

    def label_mask(self, allowed: Iterable[str] | None) -> np.ndarray | None:
        """Boolean mask over :attr:`labels` for an ``allowed`` set (None = every label)."""
        if allowed is None:
            return None
        mask = np.zeros(len(self.labels), dtype=bool)
        for lab in allowed:
            if lab in self._index:
                mask[self._index[lab]] = True
        if not mask.any():
            raise ValueError("None of the allowed labels is known to this model.")
        return mask

    def classify(self, samples: np.ndarray, sample_rate: int, top_k: int = 5,
                 allowed: set[str] | None = None, *, unknown_threshold: float | None = None) -> Prediction:
        probs = self.file_probabilities(samples, sample_rate)
        return self.decide(probs, top_k=top_k, allowed=allowed, unknown_threshold=unknown_threshold)

    def decide(self, probs: np.ndarray, top_k: int = 5, allowed: set[str] | None = None,
               unknown_threshold: float | None = None) -> Prediction:
        """Turn file-level probabilities into a :class:`Prediction` (``allowed``, top-k, unknown)."""
        probs = np.asarray(probs, dtype=np.float64)
        mask = self.label_mask(allowed)
        if mask is not None:
            probs = np.where(mask, probs, 0.0)
            total = probs.sum()
            probs = probs / total if total > 0 else mask / mask.sum()
        if top_k < 1:
            raise ValueError("top_k must be at least 1.")
        candidates = np.flatnonzero(mask) if mask is not None else np.arange(len(self.labels))
        order = candidates[np.argsort(-probs[candidates], kind="stable")][:top_k]
        ranked = tuple((self.labels[i], float(probs[i])) for i in order)
        threshold = self.unknown_threshold if unknown_threshold is None else float(unknown_threshold)
        top_label, confidence = ranked[0]
        unknown = confidence < threshold
        return Prediction(label=UNKNOWN if unknown else top_label, confidence=confidence,
                          ranked=ranked, unknown=unknown, model_version=self.version)


# --- architecture registry -----------------------------------------------------------------

Builder = Callable[[dict, dict], Classifier]
_BUILDERS: dict[str, Builder] = {}
# Architectures shipped with this build, imported on first use (module registers itself).
_BUILTIN_MODULES = {
    "logmel-stats-mlp": "ml.runtime.baseline_model",
    "phinet": "ml.runtime.phinet_model",
}


def register_architecture(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``builder(header, arrays) -> Classifier`` for files whose architecture is ``name``."""

    def decorate(builder: Builder) -> Builder:
        _BUILDERS[name] = builder
        return builder

    return decorate


def architectures() -> tuple[str, ...]:
    return tuple(sorted(set(_BUILDERS) | set(_BUILTIN_MODULES)))


def build_classifier(header: dict, arrays: dict) -> Classifier:
    """The classifier for an already loaded and validated model file."""
    name = header["architecture"]["name"]
    if name not in _BUILDERS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ModelFormatError(f"Unknown architecture {name!r}; this build knows {', '.join(architectures())}.")
    return builder(header, arrays)


def default_model_path(model_set: str | None = None) -> Path:
    """The shipped default model file.

    Without ``model_set``: ``$DAWN_MODEL_PATH`` when set, else ``fixtures/models/field.npz``
    (one model for birds and city sounds). With ``model_set`` ("birds" or "urban"): that set's
    shipped student (``fixtures/models/birds.npz`` / ``urban.npz``).
    """
    if model_set is not None:
        if model_set not in DEFAULT_MODELS:
            raise ValueError(f"model_set must be one of {', '.join(DEFAULT_MODELS)}, got {model_set!r}.")
        return DEFAULT_MODELS[model_set]
    env = os.environ.get(DEFAULT_MODEL_ENV)
    return Path(env) if env else DEFAULT_MODEL_PATH


def load_classifier(path: str | os.PathLike | None = None, *, expected_sha256: str | None = None,
                    expected_version: str | None = None) -> Classifier:
    """Load (and cache) the classifier stored at ``path`` (None: :func:`default_model_path`).

    The cache is keyed by the resolved path, its size and modification time, so a model file
    replaced in place (a new federated round) is read again. With ``expected_sha256`` /
    ``expected_version`` the file's hash and header version are checked first (a mismatch raises
    :class:`ModelFormatError`).
    """
    if expected_sha256 is not None or expected_version is not None:
        header, arrays = verify_model_file(Path(path) if path is not None else default_model_path(),
                                           expected_sha256=expected_sha256, expected_version=expected_version)
        return build_classifier(header, arrays)
    p = Path(path) if path is not None else default_model_path()
    try:
        p = p.resolve()
        st = p.stat()
    except OSError as exc:
        raise ModelFormatError(f"Cannot read model file {p}: {exc.strerror or exc}") from None
    return _load_cached(str(p), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(path: str, size: int, mtime_ns: int) -> Classifier:
    header, arrays = load_model_file(path)
    return build_classifier(header, arrays)


def clear_cache() -> None:
    _load_cached.cache_clear()

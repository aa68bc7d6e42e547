"""Adapter between a runtime classifier and federated head training.

Federated rounds train only the classifier *head*: the final dense layer mapping the
backbone's embedding to one logit per label. The classifier contract offers
``embed_windows(samples, sr)``, ``head()`` and ``with_head(head, version)``; when a classifier
lacks them (the numpy ``logmel-stats-mlp`` baseline as first shipped), this module derives them
from its layer list: the embedding is the input of the last dense layer and that layer is
the head.

A head is ``{"weight": (d, n_labels) float32, "bias": (n_labels,) float32}``.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from ml.runtime.classifier import build_classifier

Head = dict[str, np.ndarray]


def _last_dense(clf) -> tuple[int, dict]:
    layers = getattr(clf, "layers", None)
    if not layers:
        raise TypeError(f"{clf!r} offers no embed_windows/head and has no layer list to derive them from.")
    for i in range(len(layers) - 1, -1, -1):
        if layers[i]["type"] == "dense":
            return i, layers[i]
    raise TypeError(f"{clf!r} has no dense layer to use as a head.")


def head_of(clf) -> Head:
    """The trainable head of ``clf`` as float32 arrays (copies)."""
    if hasattr(clf, "head") and callable(clf.head):
        h = clf.head()
        return {"weight": np.array(h["weight"], np.float32), "bias": np.array(h["bias"], np.float32)}
    _, layer = _last_dense(clf)
    return {"weight": np.array(clf.arrays[layer["weight"]], np.float32),
            "bias": np.array(clf.arrays[layer["bias"]], np.float32)}


def embed_windows(clf, samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(n_windows, d) float32 embeddings: the input of the classifier's head."""
    if hasattr(clf, "embed_windows") and callable(clf.embed_windows):
        return np.asarray(clf.embed_windows(samples, sample_rate), np.float32)
    x = clf.to_model_rate(samples, sample_rate)
    return embed_features(clf, clf.features(x))


def embed_features(clf, features: np.ndarray) -> np.ndarray:
    """Baseline only: embeddings of precomputed summary features (all layers before the head)."""
    from ml.runtime.baseline_model import mlp_forward

    i, _ = _last_dense(clf)
    return mlp_forward(features, clf.layers[:i], clf.arrays).astype(np.float32)


def with_head(clf, head: Head, version: str):
    """A classifier with the same backbone as ``clf`` and ``head`` as its last layer."""
    if hasattr(clf, "with_head") and callable(clf.with_head):
        return clf.with_head(head, version)
    _, layer = _last_dense(clf)
    old = clf.arrays[layer["weight"]]
    w = np.asarray(head["weight"], np.float32)
    b = np.asarray(head["bias"], np.float32)
    if w.shape != old.shape or b.shape != (old.shape[1],):
        raise ValueError(f"Head shapes {w.shape}/{b.shape} do not fit the model's {old.shape}.")
    header = copy.deepcopy(clf.header)
    header["model_version"] = version
    arrays = dict(clf.arrays)
    arrays[layer["weight"]] = w
    arrays[layer["bias"]] = b
    for name in (layer["weight"], layer["bias"]):
        header["arrays"][name] = {"shape": list(arrays[name].shape), "dtype": "float32"}
    return build_classifier(header, arrays)


def save_classifier(clf, path: str | Path) -> Path:
    """Write ``clf`` as a runtime model file (uses ``clf.save`` when the classifier offers it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(clf, "save") and callable(clf.save):
        clf.save(path)
        return path
    from ml.runtime.model_format import save_model

    header = {k: v for k, v in clf.header.items() if k not in ("format", "format_version", "arrays")}
    save_model(path, header, clf.arrays)
    return path

"""The server's labelled sets for federated rounds: validation (promotion gate) and held-out
(optional server step, distillation proxy), as window embeddings of a manifest's files.

``settings.FL_VALIDATION_MANIFEST`` (default ``fixtures/audio/manifest.csv``) and
``settings.FL_HOLDOUT_MANIFEST`` (default: none), from the environment variables of those names
(server/config.py), name CSV manifests with a ``file`` column and a
``species`` or ``label`` column (DESIGN.md §5); files whose label the model does not know are
skipped. A file's prediction is the mean of its window probabilities, as at inference.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from ml.federated.embedding import embed_windows
from ml.runtime.audio import AudioError, decode



@dataclass(frozen=True)
class EmbeddedSet:
    files: list[np.ndarray]  # per file (n_windows, d)
    labels: np.ndarray       # label index per file

    def windows(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.files:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
        return np.concatenate(self.files), np.concatenate([np.full(len(f), y) for f, y in zip(self.files, self.labels)])


def manifest_path(kind: str) -> Path | None:
    """The manifest of ``kind`` ("validation" or "holdout"); ``None`` when none is configured."""
    value = getattr(settings, f"FL_{kind.upper()}_MANIFEST", None)
    return Path(value) if value else None


def embedded_set(clf, manifest: Path) -> EmbeddedSet:
    return _embedded(clf, str(manifest), clf.version)


@lru_cache(maxsize=8)
def _embedded(clf, manifest: str, version: str) -> EmbeddedSet:
    index = {lab: i for i, lab in enumerate(clf.labels)}
    files, labels = [], []
    root = Path(manifest).parent
    with open(manifest, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            label = row.get("species") or row.get("label")
            if label not in index:
                continue
            try:
                samples, sr = decode((root / row["file"]).read_bytes())
            except (OSError, AudioError):
                continue
            files.append(embed_windows(clf, samples, sr))
            labels.append(index[label])
    return EmbeddedSet(files, np.asarray(labels, np.int64))


def file_accuracy(head: dict, data: EmbeddedSet, temperature: float = 1.0) -> float | None:
    """File-level accuracy of ``head`` on embedded files (None when the set is empty)."""
    if not data.files:
        return None
    right = 0
    for emb, y in zip(data.files, data.labels):
        z = (emb @ head["weight"] + head["bias"]) / temperature
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        right += int(np.argmax(p.mean(axis=0)) == y)
    return right / len(data.files)

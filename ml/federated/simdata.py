"""Client data for the federated simulation: window embeddings of ``birds-pr``, per recordist.

Each recording is decoded as at inference and cut into 3-s windows; each window becomes the
shipped model's backbone embedding (:mod:`ml.federated.embedding`). Embeddings are cached in
``var/cache/federated/`` keyed by the files, the model file's sha256 and the code, so the
few minutes of feature extraction happen once.

Weak labels: training windows of a recording are its most active half (as in
:mod:`ml.baseline`); evaluation uses every sounding window and the file's mean probability.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ml.federated.embedding import embed_features, embed_windows

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MANIFEST = REPO_ROOT.parent / "shared" / "data" / "birds-pr" / "manifest.csv"
DEFAULT_CACHE = REPO_ROOT / "var" / "cache" / "federated"
CACHE_LAYOUT = "emb+rms+act/1"


@dataclass
class Recording:
    """One recording's windows: embeddings, RMS, activity score, and its label and owner."""
    xc_id: str
    label: str
    recordist: str
    emb: np.ndarray        # (n_windows, d)
    rms: np.ndarray        # (n_windows,)
    activity: np.ndarray   # (n_windows,)


def _rows(manifest: Path) -> list[dict]:
    with open(manifest, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _file_windows(clf, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ml.runtime import audio
    from ml.runtime.features import window_starts

    params = clf.feature_params
    samples, sr = audio.decode(path.read_bytes(), sample_rate=params.sample_rate)
    win = int(params.window_seconds * params.sample_rate)
    rms = np.array([np.sqrt(np.mean(np.square(samples[s: s + win], dtype=np.float64)))
                    for s in window_starts(samples.size, params)], np.float32)
    if hasattr(clf, "features") and hasattr(clf, "layers"):
        from ml.baseline import activity_scores

        feats = clf.features(samples)
        return embed_features(clf, feats), rms, activity_scores(feats, params).astype(np.float32)
    emb = embed_windows(clf, samples, sr)
    return emb, rms, np.linalg.norm(emb, axis=1).astype(np.float32)


def load_recordings(model_path: str | Path | None = None, manifest: Path = DEFAULT_MANIFEST,
                    cache_dir: Path | None = DEFAULT_CACHE, log: Callable[[str], None] = print) -> list[Recording]:
    """Every recording of ``manifest`` with its window embeddings under the given model."""
    from ml.runtime.classifier import default_model_path, load_classifier

    model_path = Path(model_path) if model_path else default_model_path()
    rows = _rows(manifest)
    key = hashlib.sha256(json.dumps({
        "files": [(r["file"], (manifest.parent / r["file"]).stat().st_size) for r in rows],
        "model": hashlib.sha256(model_path.read_bytes()).hexdigest(), "layout": CACHE_LAYOUT,
    }, sort_keys=True).encode()).hexdigest()[:20]
    cache = cache_dir / f"birds-pr-{key}.npz" if cache_dir else None
    if cache and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            emb, rms, act, off = npz["emb"], npz["rms"], npz["activity"], npz["offsets"]
    else:
        clf = load_classifier(model_path)
        t0 = time.perf_counter()
        parts = []
        for i, r in enumerate(rows):
            parts.append(_file_windows(clf, manifest.parent / r["file"]))
            if (i + 1) % 20 == 0:
                log(f"embeddings: {i + 1}/{len(rows)} files, {time.perf_counter() - t0:.0f} s")
        off = np.cumsum([0] + [len(p[0]) for p in parts])
        emb = np.concatenate([p[0] for p in parts]).astype(np.float32)
        rms = np.concatenate([p[1] for p in parts])
        act = np.concatenate([p[2] for p in parts])
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp")
            with open(tmp, "wb") as fh:
                np.savez(fh, emb=emb, rms=rms, activity=act, offsets=off)
            os.replace(tmp, cache)
    return [Recording(r.get("xc_id") or r["file"], r["species"], r["recordist"], emb[off[i]: off[i + 1]],
                      rms[off[i]: off[i + 1]], act[off[i]: off[i + 1]]) for i, r in enumerate(rows)]


if __name__ == "__main__":
    recs = load_recordings()
    print(f"{len(recs)} recordings, {sum(len(r.emb) for r in recs)} windows, d={recs[0].emb.shape[1]}")

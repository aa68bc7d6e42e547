"""Baseline architecture ``logmel-stats-mlp``: log-mel summary statistics + a small MLP, in numpy.

Per 3-s window (see :func:`summary_features`, version ``logmel-stats-v1``):

* per mel band (6 x n_mels): mean (relative to the window's mean level, so input gain does
  not matter), standard deviation over time, peak contrast (90th minus 50th percentile over
  time: how far calls rise above the band's noise floor), mean absolute frame-to-frame change,
  floor depth (50th minus 10th percentile) and top contrast (99th minus 50th percentile);
* seven spectral-shape statistics: spread of frame energy (std, 95th-10th percentile),
  fraction of active frames, centroid, spread and flatness of the mean spectrum, and the
  band with the strongest peak contrast;
* modulation energy (8 band groups x 5 ranges, log): how the envelope of each group of
  mel bands fluctuates at 0.5-2, 2-4, 4-8, 8-16 and 16-38 Hz (trill rates, engines, drills).

The header's ``architecture.layers`` lists ``standardize`` (stored mean/scale) and ``dense``
layers (weight ``(in, out)``, bias ``(out,)``, activation ``relu`` or ``none``); the last
layer's output is one logit per label. Weights may be stored as float16; inference is float32.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ml.runtime.batch_features import log_mel_windows
from ml.runtime.classifier import WindowedClassifier, register_architecture
from ml.runtime.features import FeatureParams
from ml.runtime.model_format import ModelFormatError

ARCHITECTURE = "logmel-stats-mlp"
SUMMARY = "logmel-stats-v1"
N_SHAPE_STATS = 7
N_BAND_STATS = 6
MODULATION_GROUPS = 8
MODULATION_EDGES_HZ = (0.5, 2.0, 4.0, 8.0, 16.0, 38.0)
ACTIVE_MARGIN = 3.0  # a frame is "active" when its log energy exceeds the median by 3 nats (~13 dB)
ACTIVATIONS = ("relu", "none")


def summary_dim(n_mels: int) -> int:
    return N_BAND_STATS * n_mels + N_SHAPE_STATS + MODULATION_GROUPS * (len(MODULATION_EDGES_HZ) - 1)


@lru_cache(maxsize=32)
def _modulation_plan(n_mels: int, n_frames: int, frame_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band-group averaging matrix, Hann taper, (ranges, bins) averaging matrix) for one window shape."""
    groups = np.zeros((MODULATION_GROUPS, n_mels), dtype=np.float32)
    for g, idx in enumerate(np.array_split(np.arange(n_mels), MODULATION_GROUPS)):
        groups[g, idx] = 1.0 / max(1, len(idx))
    taper = np.hanning(n_frames).astype(np.float32) if n_frames > 1 else np.ones(1, np.float32)
    freqs = np.fft.rfftfreq(n_frames, d=1.0 / frame_rate)
    edges = MODULATION_EDGES_HZ
    ranges = np.zeros((len(edges) - 1, freqs.size), dtype=np.float32)
    for r, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (freqs >= lo) & (freqs < hi)
        ranges[r, sel] = 1.0 / max(1, int(sel.sum()))
    return groups, taper, ranges


def _modulation(m: np.ndarray, frame_rate: float) -> np.ndarray:
    n, n_mels, n_frames = m.shape
    groups, taper, ranges = _modulation_plan(n_mels, n_frames, float(frame_rate))
    env = np.einsum("gb,nbt->ngt", groups, m)
    env = (env - env.mean(axis=2, keepdims=True)) * taper
    power = np.abs(np.fft.rfft(env, axis=2)) ** 2  # (n, groups, freqs)
    return np.log(power @ ranges.T + 1e-3).reshape(n, -1)


def _summary_block(m: np.ndarray, frame_rate: float) -> np.ndarray:
    """Summary features for log-mels ``m`` of shape (n, n_mels, frames) -> (n, summary_dim)."""
    n, n_mels, n_frames = m.shape
    m = m.astype(np.float32, copy=False)
    level = m.mean(axis=(1, 2), keepdims=True)
    band_mean = (m.mean(axis=2, keepdims=True) - level)[..., 0]
    band_std = m.std(axis=2)
    p10, median, p90, p99 = np.percentile(m, [10, 50, 90, 99], axis=2)
    band_peak = p90 - median
    band_flux = np.abs(np.diff(m, axis=2)).mean(axis=2) if n_frames > 1 else np.zeros_like(band_std)
    top = m.max(axis=1, keepdims=True)
    energy = (top + np.log(np.exp(m - top).sum(axis=1, keepdims=True)))[:, 0, :]  # (n, frames)
    e10, e50, e95 = np.percentile(energy, [10, 50, 95], axis=1)
    energy_std = energy.std(axis=1)
    active = (energy > (e50 + ACTIVE_MARGIN)[:, None]).mean(axis=1)
    spectrum = np.exp(m - m.max(axis=(1, 2), keepdims=True)).mean(axis=2) + 1e-12  # (n, n_mels)
    pdf = spectrum / spectrum.sum(axis=1, keepdims=True)
    bins = np.arange(n_mels, dtype=np.float32) / n_mels
    centroid = (pdf * bins).sum(axis=1)
    spread = np.sqrt((pdf * (bins - centroid[:, None]) ** 2).sum(axis=1))
    flatness = np.log(spectrum).mean(axis=1) - np.log(spectrum.mean(axis=1))
    peak_band = band_peak.argmax(axis=1) / n_mels
    shape = np.stack([energy_std, e95 - e10, active, centroid, spread, flatness, peak_band], axis=1)
    return np.concatenate([band_mean, band_std, band_peak, band_flux, median - p10, p99 - median, shape,
                           _modulation(m, frame_rate)], axis=1).astype(np.float32)


def summary_features(log_mels: np.ndarray, valid_frames: np.ndarray | None = None,
                     frame_rate: float = FeatureParams().sample_rate / FeatureParams().hop_length) -> np.ndarray:
    """(n_windows, summary_dim) features; statistics use only each window's valid frames."""
    n, _, n_frames = log_mels.shape
    if valid_frames is None or np.all(np.asarray(valid_frames) >= n_frames):
        return _summary_block(log_mels, frame_rate)
    rows = [_summary_block(log_mels[i: i + 1, :, : max(1, int(valid_frames[i]))], frame_rate) for i in range(n)]
    return np.concatenate(rows, axis=0)


def window_summaries(samples: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Summary features of every 3-s window of mono samples already at ``params.sample_rate``."""
    log_mels, valid = log_mel_windows(samples, params)
    return summary_features(log_mels, valid, params.sample_rate / params.hop_length)


def mlp_forward(features: np.ndarray, layers: list[dict], arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Apply the header's layer list to (n, in) features; returns (n, out) float32."""
    h = features.astype(np.float32, copy=False)
    for layer in layers:
        if layer["type"] == "standardize":
            h = (h - arrays[layer["mean"]]) / arrays[layer["scale"]]
        else:  # dense
            h = h @ arrays[layer["weight"]] + arrays[layer["bias"]]
            if layer["activation"] == "relu":
                h = np.maximum(h, 0.0)
    return h


class StatsMLPClassifier(WindowedClassifier):
    """numpy inference for ``logmel-stats-mlp`` files."""

    def __init__(self, header: dict, arrays: dict[str, np.ndarray]):
        super().__init__(header, arrays)
        self.layers = validate_layers(header, arrays)
        last = self.layers[-1]
        if last["type"] != "dense" or last["activation"] != "none":
            raise ModelFormatError(f"{ARCHITECTURE}: the last layer must be a dense layer without activation.")
        self.head_arrays = (last["weight"], last["bias"])
        # compute in float32 whatever the storage type
        self.arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}

    def features(self, samples: np.ndarray) -> np.ndarray:
        return window_summaries(samples, self.feature_params)

    def window_embeddings(self, samples: np.ndarray) -> np.ndarray:
        """The last hidden layer's activations (input of the final dense layer)."""
        return mlp_forward(self.features(samples), self.layers[:-1], self.arrays)


def validate_layers(header: dict, arrays: dict[str, np.ndarray]) -> list[dict]:
    """Check the layer list against the arrays and labels; raise :class:`ModelFormatError`."""
    arch = header["architecture"]
    if arch.get("summary") != SUMMARY:
        raise ModelFormatError(f"{ARCHITECTURE}: unsupported summary {arch.get('summary')!r}; expected {SUMMARY!r}.")
    n_mels = int(header["feature_params"].get("n_mels", FeatureParams.n_mels))
    width = summary_dim(n_mels)
    layers = arch["layers"]
    if not layers:
        raise ModelFormatError(f"{ARCHITECTURE}: the layer list is empty.")

    def array(layer: dict, key: str, ndim: int) -> np.ndarray:
        name = layer.get(key)
        if not isinstance(name, str) or name not in arrays:
            raise ModelFormatError(f"{ARCHITECTURE}: layer {layer.get('type')!r} refers to missing array {name!r}.")
        a = arrays[name]
        if a.ndim != ndim or a.dtype.kind != "f":
            raise ModelFormatError(f"{ARCHITECTURE}: array {name!r} must be a {ndim}-D float array, got {a.shape} {a.dtype}.")
        return a

    for i, layer in enumerate(layers):
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind == "standardize":
            mean, scale = array(layer, "mean", 1), array(layer, "scale", 1)
            if mean.shape != (width,) or scale.shape != (width,):
                raise ModelFormatError(f"{ARCHITECTURE}: standardize arrays must have shape ({width},), "
                                       f"got {mean.shape} and {scale.shape}.")
            if np.any(scale == 0):
                raise ModelFormatError(f"{ARCHITECTURE}: standardize scale holds zeros.")
        elif kind == "dense":
            weight, bias = array(layer, "weight", 2), array(layer, "bias", 1)
            if weight.shape[0] != width or bias.shape != (weight.shape[1],):
                raise ModelFormatError(f"{ARCHITECTURE}: dense layer {i} has weight {weight.shape} and bias "
                                       f"{bias.shape} but its input width is {width}.")
            if layer.get("activation") not in ACTIVATIONS:
                raise ModelFormatError(f"{ARCHITECTURE}: dense layer {i} has unknown activation "
                                       f"{layer.get('activation')!r}.")
            width = weight.shape[1]
        else:
            raise ModelFormatError(f"{ARCHITECTURE}: unknown layer type {kind!r} at position {i}.")
    if width != len(header["labels"]):
        raise ModelFormatError(f"{ARCHITECTURE}: the model outputs {width} values for {len(header['labels'])} labels.")
    return layers


@register_architecture(ARCHITECTURE)
def build(header: dict, arrays: dict[str, np.ndarray]) -> StatsMLPClassifier:
    return StatsMLPClassifier(header, arrays)

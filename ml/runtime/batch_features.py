"""Log-mel spectrograms of all 3-s windows of a clip at once (fast path for inference).

Numerically the same as calling :func:`ml.runtime.features.log_mel` on every row of
:func:`ml.runtime.features.windows` (tested to 1e-4), but with one FFT call and one
single-threaded filterbank product for the whole clip, which keeps ``classify()`` within a
phone's budget (figures: ``docs/performance.md``). Uses ``scipy.fft`` when present (it keeps
float32 fast), ``numpy.fft`` otherwise.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ml.runtime.features import FeatureParams, _hann, mel_filterbank, windows

try:  # scipy is optional on the phone
    from scipy import fft as _fft
except ImportError:  # pragma: no cover - exercised on scipy-less builds only
    _fft = np.fft


# OpenBLAS hands a product to its thread pool when m*n*k >= 65536 * 4. For this small
# projection, waking the pool costs more than it saves and can stall on a loaded machine; rows
# are therefore fed in blocks that stay below that size, so the product stays single-threaded.
_SINGLE_THREAD_MNK = 65536 * 4


@lru_cache(maxsize=16)
def mel_weights(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """The slaney filterbank transposed, (n_fft//2+1, n_mels), C-contiguous."""
    return np.ascontiguousarray(mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).T)


def project(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``rows @ weights`` in row blocks small enough for BLAS to run them on the calling thread."""
    m, k = rows.shape
    n = weights.shape[1]
    block = max(1, (_SINGLE_THREAD_MNK - 1) // max(1, k * n))
    if m <= block:
        return rows @ weights
    out = np.empty((m, n), dtype=np.result_type(rows, weights))
    for start in range(0, m, block):
        np.matmul(rows[start: start + block], weights, out=out[start: start + block])
    return out


def frames_per_window(params: FeatureParams = FeatureParams()) -> int:
    """Number of STFT frames in one (centred, reflect-padded) window."""
    win = int(params.window_seconds * params.sample_rate)
    return 1 + win // params.hop_length


def log_mel_windows(x: np.ndarray, params: FeatureParams = FeatureParams()) -> tuple[np.ndarray, np.ndarray]:
    """``(log_mels, valid_frames)`` for the analysis windows of mono samples ``x`` at ``params.sample_rate``.

    ``log_mels`` has shape ``(n_windows, n_mels, frames_per_window)``; ``valid_frames[i]`` is how
    many leading frames of window ``i`` hold real signal: all of them, except for a clip shorter
    than one window, which :func:`windows` zero-pads (frames centred past its end are padding).
    """
    x = np.asarray(x, dtype=np.float32)
    stack = windows(x, params)
    n_win, win = stack.shape
    pad = params.n_fft // 2
    padded = np.pad(stack, ((0, 0), (pad, pad)), mode="reflect")
    n_frames = 1 + (padded.shape[1] - params.n_fft) // params.hop_length
    s0, s1 = padded.strides
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_win, n_frames, params.n_fft), strides=(s0, s1 * params.hop_length, s1),
        writeable=False)
    spec = _fft.rfft(frames * _hann(params.n_fft), axis=-1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32, copy=False)
    weights = mel_weights(params.sample_rate, params.n_fft, params.n_mels, params.fmin, params.fmax)
    mel = project(power.reshape(n_win * n_frames, -1), weights)
    log_mels = np.log(mel + params.log_offset).astype(np.float32).reshape(n_win, n_frames, -1)
    valid = np.full(n_win, n_frames, dtype=np.int64)
    if x.size < win:
        valid[0] = max(1, min(n_frames, math.ceil(x.size / params.hop_length)))
    return log_mels.transpose(0, 2, 1), valid


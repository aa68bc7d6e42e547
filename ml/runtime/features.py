"""Log-mel features in numpy, numerically matching librosa's slaney mel filterbank.

These parameters are part of the runtime model format: a model stores the
:class:`FeatureParams` it was trained with and inference must use exactly them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class FeatureParams:
    sample_rate: int = 24_000
    n_fft: int = 1024
    hop_length: int = 320
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 12_000.0
    log_offset: float = 1e-6
    window_seconds: float = 3.0
    window_hop_seconds: float = 1.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureParams":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa with htk=False."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, n_fft//2+1) slaney-normalised triangular filters (librosa.filters.mel)."""
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def power_spectrogram(x: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT|² with a periodic Hann window and centred, reflect-padded frames: (freqs, frames)."""
    x = np.asarray(x, dtype=np.float32)
    pad = n_fft // 2
    if x.size <= pad:
        x = np.pad(x, (0, pad + 1 - x.size))
    x = np.pad(x, (pad, pad), mode="reflect")
    n_frames = 1 + (x.size - n_fft) // hop_length
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, n_fft), strides=(x.strides[0] * hop_length, x.strides[0]), writeable=False)
    spec = np.fft.rfft(frames * _hann(n_fft), axis=1)
    return (spec.real ** 2 + spec.imag ** 2).T.astype(np.float32)


def log_mel(x: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Natural-log mel power spectrogram, shape (n_mels, frames)."""
    power = power_spectrogram(x, params.n_fft, params.hop_length)
    fb = mel_filterbank(params.sample_rate, params.n_fft, params.n_mels, params.fmin, params.fmax)
    return np.log(fb @ power + params.log_offset).astype(np.float32)


def window_starts(n_samples: int, params: FeatureParams = FeatureParams()) -> list[int]:
    """Start samples of the analysis windows; a short clip yields one (zero-padded) window."""
    win = int(params.window_seconds * params.sample_rate)
    hop = int(params.window_hop_seconds * params.sample_rate)
    if n_samples <= win:
        return [0]
    starts = list(range(0, n_samples - win + 1, hop))
    if starts[-1] + win < n_samples:
        starts.append(n_samples - win)
    return starts


def windows(x: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """(n_windows, window_samples) array of fixed-length windows, zero-padding short clips."""
    win = int(params.window_seconds * params.sample_rate)
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    return np.stack([x[s: s + win] for s in window_starts(x.size, params)])

"""The training log-mel frontend in torch (``torch.stft`` + librosa's slaney filterbank).

Same parameters and conventions as the runtime's numpy frontend
(:mod:`ml.runtime.batch_features`): periodic Hann window, centred reflect-padded frames,
power spectrum, slaney mel filters, natural log with ``log_offset``. A parity test keeps
the two within 1e-4. Training computes its cached features with this module.
"""
from __future__ import annotations

import librosa
import numpy as np
import torch

from ml.runtime.features import FeatureParams, windows


class TorchLogMel(torch.nn.Module):
    """(batch, samples) float32 at ``params.sample_rate`` -> (batch, n_mels, frames) log-mel."""

    def __init__(self, params: FeatureParams = FeatureParams()):
        super().__init__()
        self.params = params
        fb = librosa.filters.mel(sr=params.sample_rate, n_fft=params.n_fft, n_mels=params.n_mels,
                                 fmin=params.fmin, fmax=params.fmax, htk=False, norm="slaney")
        self.register_buffer("fb", torch.from_numpy(fb.astype(np.float32)))
        self.register_buffer("window", torch.hann_window(params.n_fft, periodic=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, self.params.n_fft, self.params.hop_length, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        return torch.log(torch.matmul(self.fb, power) + self.params.log_offset)


def window_log_mels(samples: np.ndarray, params: FeatureParams = FeatureParams(),
                    frontend: TorchLogMel | None = None) -> np.ndarray:
    """(n_windows, n_mels, frames) float32 log-mels of mono samples at ``params.sample_rate``."""
    frontend = frontend or TorchLogMel(params)
    with torch.no_grad():
        return frontend(torch.from_numpy(windows(np.asarray(samples, np.float32), params))).numpy()

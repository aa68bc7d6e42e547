"""Spectrogram images (numpy + Pillow, no Django): dB STFT power, 0–12 kHz, a perceptual palette."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ml.runtime.features import power_spectrogram

MAX_SECONDS = 30.0
HEIGHT = 160
MAX_WIDTH = 720
FMAX_HZ = 12_000.0
DYNAMIC_RANGE_DB = 80.0
# (position, r, g, b) anchors of a viridis-like palette: dark blue → green → yellow
_ANCHORS = np.array([[0.0, 13, 8, 50], [0.25, 59, 82, 139], [0.5, 33, 145, 140], [0.75, 94, 201, 98],
                     [1.0, 253, 231, 37]], dtype=np.float32)
PALETTE = np.stack([np.interp(np.linspace(0, 1, 256), _ANCHORS[:, 0], _ANCHORS[:, c]) for c in (1, 2, 3)],
                   axis=1).astype(np.uint8)


def spectrogram_db(samples: np.ndarray, sr: int, n_fft: int = 1024) -> np.ndarray:
    """(freq bins up to FMAX, frames) power in dB relative to the loudest bin, floored at −range."""
    x = np.asarray(samples, dtype=np.float32)[: int(MAX_SECONDS * sr)]
    hop = max(n_fft // 4, int(np.ceil(x.size / MAX_WIDTH)))
    power = power_spectrogram(x, n_fft, hop)[:, :MAX_WIDTH]
    top = min(power.shape[0], int(FMAX_HZ / (sr / n_fft)) + 1)
    db = 10.0 * np.log10(power[:top] + 1e-12)
    return np.maximum(db - db.max(), -DYNAMIC_RANGE_DB)


def render_png(samples: np.ndarray, sr: int) -> bytes:
    """A PNG of the spectrogram: time to the right, frequency upwards, HEIGHT pixels tall."""
    db = spectrogram_db(samples, sr)
    level = ((db + DYNAMIC_RANGE_DB) / DYNAMIC_RANGE_DB * 255.0).astype(np.uint8)[::-1]
    image = Image.fromarray(PALETTE[level], mode="RGB").resize((level.shape[1], HEIGHT), Image.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()

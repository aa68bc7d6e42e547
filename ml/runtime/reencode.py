"""Re-encodings that carry none of the source file's container tags.

Only PCM crosses from the source to the result: the bytes written here are made by the encoder
from samples, so Vorbis comments, ID3 frames, RIFF ``LIST``/``INFO`` chunks, FLAC pictures and any
other metadata of the source never reach them. libsndfile writes no comments of its own (an
Ogg/Opus result holds only the encoder's vendor string in ``OpusTags``).

* :func:`public_clip` — the publishable clip: one span of a mono signal as Ogg/Opus (libopus
  directly through :mod:`ml.runtime.opus_encode`, else libsndfile's encoder).
* :func:`tag_free_flac` — a lossless-at-16/24-bit copy of a whole file, channels and rate kept.
"""
from __future__ import annotations

import io
import tempfile

import numpy as np

from . import opus_encode
from .audio import AudioError, encode_ogg_opus, resample

PUBLIC_CLIP_MAX_S = 60.0   # a clip never lasts longer than this, whatever span is asked for
# libopus complexity (0-10) of the public clip, which every accepted recording pays inside analysis;
# 5 rather than the maximum, at the same bitrate (figures: docs/performance.md)
OPUS_COMPLEXITY = 5
MIN_CLIP_S = 0.1
BLOCK_FRAMES = 65_536
HIGH_RESOLUTION_SUBTYPES = {"PCM_24", "PCM_32", "FLOAT", "DOUBLE"}


def clip_span(n_samples: int, sample_rate: int, start_s: float | None, end_s: float | None,
              max_seconds: float = PUBLIC_CLIP_MAX_S) -> tuple[int, int]:
    """Sample bounds [lo, hi) of the span ``start_s``..``end_s`` (None: the file's start or end),
    clamped to the signal and to ``max_seconds``; ``lo < hi`` unless the signal is empty."""
    lo = 0 if start_s is None else int(round(max(0.0, start_s) * sample_rate))
    hi = n_samples if end_s is None else int(round(max(0.0, end_s) * sample_rate))
    lo = min(lo, n_samples)
    hi = min(max(hi, lo), n_samples, lo + int(max_seconds * sample_rate))
    if hi == lo and n_samples:
        lo = max(0, min(lo, n_samples - 1))
        hi = lo + 1
    return lo, hi


def public_clip(samples: np.ndarray, sample_rate: int, start_s: float | None = None,
                end_s: float | None = None) -> bytes | None:
    """Ogg/Opus of ``samples[start_s:end_s]`` (mono float, speech already muted by the caller),
    or None when the span is shorter than ``MIN_CLIP_S`` or silent (nothing worth publishing)."""
    lo, hi = clip_span(samples.shape[0], sample_rate, start_s, end_s)
    span = np.asarray(samples[lo:hi], dtype=np.float32)
    if span.size < MIN_CLIP_S * sample_rate or not np.any(span):
        return None
    if sample_rate not in opus_encode.OPUS_RATES:
        span, sample_rate = resample(span, sample_rate, 48_000), 48_000
    data = opus_encode.encode(span, sample_rate, complexity=OPUS_COMPLEXITY)
    return data if data is not None else encode_ogg_opus(span, sample_rate)


def tag_free_flac(data: bytes) -> tempfile.SpooledTemporaryFile:
    """A FLAC copy of the audio file ``data`` (any format libsndfile reads) with no tags, as a file
    object positioned at 0. Channels and sample rate are kept; 24-bit or float sources stay 24-bit,
    the rest 16-bit. Decodes block by block, so memory stays bounded by the output's size.
    Raises :class:`AudioError` (``audio_corrupt``) when ``data`` cannot be decoded."""
    import soundfile as sf

    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        with sf.SoundFile(io.BytesIO(data)) as src:
            subtype = "PCM_24" if src.subtype in HIGH_RESOLUTION_SUBTYPES else "PCM_16"
            with sf.SoundFile(out, "w", samplerate=src.samplerate, channels=src.channels, format="FLAC",
                              subtype=subtype, closefd=False) as dst:
                for block in src.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                    dst.write(np.clip(block, -1.0, 1.0))
    except (RuntimeError, ValueError, TypeError, sf.LibsndfileError) as exc:
        out.close()
        raise AudioError("audio_corrupt", f"The stored audio cannot be decoded: {exc}") from None
    out.seek(0)
    return out

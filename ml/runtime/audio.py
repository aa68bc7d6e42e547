"""Decode and probe untrusted audio bytes into mono float32 numpy arrays.

Every failure raises :class:`AudioError` with a stable ``code``; callers map it to an API error.
Decoding uses libsndfile through ``soundfile`` (WAV, FLAC, Ogg Vorbis/Opus, MP3); phone-style
Ogg/Opus goes straight through libopus at the wanted rate when it can (:mod:`ml.runtime.opus`).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .opus import decode_ogg_opus

MAX_BYTES = 25 * 1024 * 1024
MAX_SECONDS = 300.0
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 2

FORMATS = {"WAV": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}


class AudioError(ValueError):
    """Audio that cannot be accepted; ``code`` is stable and machine readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AudioInfo:
    format: str  # one of FORMATS' values
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def sniff_format(head: bytes) -> str | None:
    """Container format from the first bytes, or None when it is not a format we accept."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _soundfile():
    import soundfile  # imported lazily: the phone may decode with its own recorder instead

    return soundfile


def probe(data: bytes, *, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS) -> AudioInfo:
    """Validate the container and header of ``data`` without decoding it all."""
    if not data:
        raise AudioError("audio_empty", "The audio file is empty.")
    if len(data) > max_bytes:
        raise AudioError("audio_too_large", f"The audio file exceeds {max_bytes // (1024 * 1024)} MB.")
    kind = sniff_format(data[:16])
    if kind is None:
        raise AudioError("audio_unsupported_format",
                         "Not a WAV, FLAC, Ogg or MP3 file.")
    sf = _soundfile()
    try:
        info = sf.info(io.BytesIO(data))
    except Exception as exc:  # libsndfile raises several types for broken headers
        raise AudioError("audio_corrupt", f"The audio file cannot be read: {exc}") from None
    frames = int(info.frames)
    if kind == "mp3" and frames <= 0:
        frames = _count_frames(data)
    result = AudioInfo(format=kind, sample_rate=int(info.samplerate), channels=int(info.channels),
                       frames=max(frames, 0))
    if not MIN_SAMPLE_RATE <= result.sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError("audio_bad_sample_rate",
                         f"Sample rate {result.sample_rate} Hz is outside "
                         f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz.")
    if not 1 <= result.channels <= MAX_CHANNELS:
        raise AudioError("audio_bad_channels", f"{result.channels} channels; mono or stereo only.")
    if result.frames == 0:
        raise AudioError("audio_empty", "The audio holds no samples.")
    if result.duration > max_seconds:
        raise AudioError("audio_too_long",
                         f"The audio lasts {result.duration:.0f} s; the limit is {max_seconds:.0f} s.")
    return result


def _count_frames(data: bytes) -> int:
    sf = _soundfile()
    with sf.SoundFile(io.BytesIO(data)) as f:
        return sum(len(block) for block in f.blocks(blocksize=65536, dtype="float32"))


def decode(data: bytes, *, sample_rate: int | None = None,
           max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """Decode ``data`` to mono float32 in [-1, 1], resampled to ``sample_rate`` when given."""
    info = probe(data, max_bytes=max_bytes, max_seconds=max_seconds)
    samples = decode_ogg_opus(data, sample_rate, max_seconds) if info.format == "ogg" and sample_rate else None
    if samples is not None:   # Opus straight at the wanted rate (ml.runtime.opus)
        sr = sample_rate
    else:
        sf = _soundfile()
        try:
            samples, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError("audio_corrupt", f"The audio file cannot be decoded: {exc}") from None
    if samples.shape[0] == 0:
        raise AudioError("audio_empty", "The audio holds no samples.")
    if samples.shape[0] > max_seconds * sr + sr:
        raise AudioError("audio_too_long", f"The audio is longer than {max_seconds:.0f} s.")
    mono = samples.mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(mono)):
        raise AudioError("audio_corrupt", "The audio holds non-finite samples.")
    if sample_rate and sample_rate != sr:
        mono = resample(mono, sr, sample_rate)
        sr = sample_rate
    return mono, int(sr)


def resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Band-limited resampling (polyphase with scipy when present, FFT otherwise)."""
    if sr_from == sr_to or x.size == 0:
        return x.astype(np.float32, copy=False)
    ratio = Fraction(sr_to, sr_from).limit_denominator(1000)
    try:
        from scipy.signal import resample_poly
    except ImportError:  # phone builds without scipy
        n_out = int(round(x.size * sr_to / sr_from))
        spectrum = np.fft.rfft(x)
        keep = min(spectrum.size, n_out // 2 + 1)
        y = np.fft.irfft(spectrum[:keep], n=n_out) * (n_out / x.size)
        return y.astype(np.float32)
    return resample_poly(x, ratio.numerator, ratio.denominator).astype(np.float32)


def _encode(x: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    sf = _soundfile()
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), sample_rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def encode_wav(x: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of a mono float signal."""
    return _encode(x, sample_rate, "WAV")


def encode_flac(x: np.ndarray, sample_rate: int) -> bytes:
    """16-bit FLAC bytes of a mono float signal (lossless, for muted copies)."""
    return _encode(x, sample_rate, "FLAC")


def encode_ogg_opus(x: np.ndarray, sample_rate: int = 48_000) -> bytes:
    """Ogg/Opus bytes of a mono (n,) or stereo (n, 2) float signal (libsndfile's Opus encoder).

    Opus runs at 8, 12, 16, 24 or 48 kHz; other rates are resampled to 48 kHz first.
    """
    x = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float32)), -1.0, 1.0)
    if sample_rate not in (8_000, 12_000, 16_000, 24_000, 48_000):
        x = (np.stack([resample(c, sample_rate, 48_000) for c in x.T], axis=1) if x.ndim == 2
             else resample(x, sample_rate, 48_000))
        sample_rate = 48_000
    buf = io.BytesIO()
    _soundfile().write(buf, x, sample_rate, format="OGG", subtype="OPUS")
    return buf.getvalue()

"""Audio the phone can read with the standard library: RIFF/WAVE PCM (8/16/24/32-bit integer or 32-bit
float), as the server sends clips to phones (``?audio=wav``) and as the queue stores takes.

Other containers (Ogg/Opus, FLAC, MP3) need libsndfile or libopus, which a phone build does not carry;
:func:`decode_audio` hands them to :func:`ml.runtime.audio.decode` only where that is installed (a
desktop) and otherwise raises :class:`PcmError` with a message a player can read.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_IEEE_FLOAT = 3
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
MAX_CHANNELS = 2


class PcmError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def _chunks(data: bytes):
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        yield cid, data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(float32 samples shaped (frames, channels) in [-1, 1], sample rate) of a WAV file's bytes."""
    if not is_wav(data):
        raise PcmError("audio_unsupported_format", "Not a WAV file.")
    fmt, body = None, None
    for cid, chunk in _chunks(data):
        if cid == b"fmt " and len(chunk) >= 16:
            fmt = struct.unpack("<HHIIHH", chunk[:16])
            if fmt[0] == WAVE_FORMAT_EXTENSIBLE and len(chunk) >= 26:
                fmt = (struct.unpack("<H", chunk[24:26])[0],) + fmt[1:]
        elif cid == b"data":
            body = chunk
            break
    if fmt is None or body is None:
        raise PcmError("audio_corrupt", "The WAV file has no format or no samples.")
    tag, channels, rate, _byte_rate, _align, bits = fmt
    if not 1 <= channels <= MAX_CHANNELS or rate <= 0:
        raise PcmError("audio_corrupt", f"Unsupported WAV layout ({channels} channels at {rate} Hz).")
    width = bits // 8
    usable = len(body) - len(body) % (width * channels) if width else 0
    raw = body[:usable]
    if tag == WAVE_FORMAT_IEEE_FLOAT and bits == 32:
        x = np.frombuffer(raw, "<f4").astype(np.float32)
    elif tag == WAVE_FORMAT_PCM and bits == 16:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif tag == WAVE_FORMAT_PCM and bits == 32:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif tag == WAVE_FORMAT_PCM and bits == 8:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == WAVE_FORMAT_PCM and bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    else:
        raise PcmError("audio_unsupported_format", f"WAV encoding {tag} at {bits} bits is not supported.")
    if x.size == 0:
        raise PcmError("audio_empty", "The WAV file holds no samples.")
    return np.nan_to_num(x.reshape(-1, channels), nan=0.0, posinf=1.0, neginf=-1.0), int(rate)


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32, sample rate): WAV with the standard library, anything else through
    :mod:`ml.runtime.audio` where libsndfile is installed (desktops); :class:`PcmError` otherwise."""
    if is_wav(data):
        x, sr = read_wav(data)
        return x.mean(axis=1).astype(np.float32), sr
    try:
        import soundfile  # noqa: F401  - present on desktops only; never in a phone build
    except ImportError:
        raise PcmError("audio_needs_wav", "This sound is not in a format the phone can play; "
                       "ask the server for WAV (audio=wav).") from None
    from ml.runtime.audio import decode

    return decode(data)


def read_audio_file(path: str | Path, keep_stereo: bool = False) -> tuple[np.ndarray, int]:
    """A local file as float32 (frames,) mono or (frames, 2) with ``keep_stereo``; see :func:`decode_audio`."""
    data = Path(path).read_bytes()
    if is_wav(data):
        x, sr = read_wav(data)
    else:
        try:
            import soundfile
        except ImportError:
            raise PcmError("audio_needs_wav", f"{Path(path).name} is not a WAV file, and this build "
                           "reads WAV only.") from None
        x, sr = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if keep_stereo and x.shape[1] == 2:
        return x.astype(np.float32), int(sr)
    return x.mean(axis=1).astype(np.float32), int(sr)

"""Decode and probe untrusted audio bytes into mono float32 numpy arrays.

Every failure raises :class:`AudioError` with a stable ``code``; callers map it to an API error.
Decoding uses libsndfile through ``soundfile`` (WAV, FLAC, Ogg Vorbis/Opus, MP3); phone-style
Ogg/Opus goes straight through libopus at the wanted rate when it can (:mod:`ml.runtime.opus`).

Memory is bounded by the header, before any sample is decoded: the sample rate, channels and
duration it declares must lie within limits, and the mono float32 result (at the wanted rate)
must fit ``max_decoded_bytes`` (:func:`decoded_bytes`). libsndfile's output is then read
``BLOCK_FRAMES`` frames at a time, mixed to mono and resampled block by block
(:class:`BlockResampler`), so a decode holds the result plus about one block, whatever the
input's rate and channel count.
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
MAX_SAMPLE_RATE = 96_000
MAX_CHANNELS = 2
MAX_DECODED_BYTES = 128 * 1024 * 1024   # the mono float32 array one decode may return (300 s at 96 kHz fits)
BLOCK_FRAMES = 1 << 16                  # frames libsndfile decodes at a time

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


def probe(data: bytes, *, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS,
          max_sample_rate: int = MAX_SAMPLE_RATE) -> AudioInfo:
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
    if not MIN_SAMPLE_RATE <= result.sample_rate <= max_sample_rate:
        raise AudioError("audio_bad_sample_rate",
                         f"Sample rate {result.sample_rate} Hz is outside "
                         f"{MIN_SAMPLE_RATE}-{max_sample_rate} Hz.")
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


def decoded_bytes(info: AudioInfo, sample_rate: int | None = None) -> int:
    """Bytes of the mono float32 array :func:`decode` returns for this header, at ``sample_rate`` when given."""
    rate = sample_rate or info.sample_rate
    return 4 * -(-info.frames * rate // info.sample_rate)


def decode(data: bytes, *, sample_rate: int | None = None, max_bytes: int = MAX_BYTES,
           max_seconds: float = MAX_SECONDS, max_sample_rate: int = MAX_SAMPLE_RATE,
           max_decoded_bytes: int = MAX_DECODED_BYTES) -> tuple[np.ndarray, int]:
    """Decode ``data`` to mono float32 in [-1, 1], resampled to ``sample_rate`` when given.

    Refuses (before decoding) a header beyond the limits or whose result would exceed
    ``max_decoded_bytes`` (``audio_too_large_decoded``); decodes in blocks (see the module doc).
    """
    info = probe(data, max_bytes=max_bytes, max_seconds=max_seconds, max_sample_rate=max_sample_rate)
    if decoded_bytes(info, sample_rate) > max_decoded_bytes:
        raise AudioError("audio_too_large_decoded",
                         f"Decoded, the audio would take {decoded_bytes(info, sample_rate) // 2**20} MB; "
                         f"the limit is {max_decoded_bytes // 2**20} MB.")
    samples = decode_ogg_opus(data, sample_rate, max_seconds) if info.format == "ogg" and sample_rate else None
    if samples is not None:   # Opus straight at the wanted rate (ml.runtime.opus)
        mono, sr = samples.mean(axis=1, dtype=np.float32), sample_rate
        if not np.all(np.isfinite(mono)):
            raise AudioError("audio_corrupt", "The audio holds non-finite samples.")
    else:
        mono, sr = _decode_blocks(data, info, sample_rate, max_seconds)
    if mono.shape[0] == 0:
        raise AudioError("audio_empty", "The audio holds no samples.")
    return mono, int(sr)


def _decode_blocks(data: bytes, info: AudioInfo, sample_rate: int | None,
                   max_seconds: float) -> tuple[np.ndarray, int]:
    """libsndfile's output read block by block, each block mixed to mono and resampled at once."""
    sf = _soundfile()
    sr_in = info.sample_rate
    sr_out = sample_rate or sr_in
    limit_in = int(max_seconds * sr_in + sr_in)   # frames beyond the declared limit (a lying header)
    out = _Output(decoded_bytes(info, sample_rate) // 4)
    resampler = BlockResampler(sr_in, sr_out) if sr_out != sr_in else None
    read = 0
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.samplerate != sr_in:
                raise AudioError("audio_corrupt", "The audio header changed while decoding.")
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                read += block.shape[0]
                if read > limit_in:
                    raise AudioError("audio_too_long", f"The audio is longer than {max_seconds:.0f} s.")
                mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
                if not np.all(np.isfinite(mono)):
                    raise AudioError("audio_corrupt", "The audio holds non-finite samples.")
                out.append(resampler.feed(mono) if resampler else mono)
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError("audio_corrupt", f"The audio file cannot be decoded: {exc}") from None
    if resampler:
        out.append(resampler.finish())
    return out.result(), sr_out


class _Output:
    """A float32 array filled block by block; sized from the header, grown only if the stream is longer."""

    def __init__(self, expected: int):
        self.buf = np.empty(max(expected, 0), dtype=np.float32)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        if self.n + x.size > self.buf.size:
            grown = np.empty(max(self.n + x.size, self.buf.size + self.buf.size // 4), dtype=np.float32)
            grown[:self.n] = self.buf[:self.n]
            self.buf = grown
        self.buf[self.n:self.n + x.size] = x
        self.n += x.size

    def result(self) -> np.ndarray:
        return self.buf[:self.n] if self.n == self.buf.size else self.buf[:self.n].copy()


class BlockResampler:
    """:func:`resample` of a stream fed in blocks, holding only a block and its filter context.

    With scipy, the concatenated output equals ``resample_poly`` over the whole signal (to float32
    rounding): each segment handed to it starts at a multiple of the decimation factor ``down`` and
    carries ``pad`` input samples of context on each side, more than the filter's reach, so the
    polyphase grid and the zero padding at both ends are those of the whole signal. Without scipy
    (phone builds) the stream is gathered and resampled once at the end.
    """

    def __init__(self, sr_from: int, sr_to: int):
        ratio = Fraction(sr_to, sr_from).limit_denominator(1000)
        self.sr_from, self.sr_to = sr_from, sr_to
        self.up, self.down = ratio.numerator, ratio.denominator
        reach = 10 * max(self.up, self.down) // self.up + 2         # resample_poly's half filter, input samples
        self.pad = -(-reach // self.down) * self.down               # ... rounded up to a multiple of down
        self.pending = np.zeros(0, dtype=np.float32)                # input from index self.base on
        self.base = 0                                               # stream index of pending[0]
        self.done = 0                                               # input index (multiple of down) emitted up to
        self.total = 0                                              # input samples fed
        self.emitted = 0                                            # output samples returned
        try:
            from scipy.signal import firwin, resample_poly
        except ImportError:
            resample_poly = None
        else:   # resample_poly's own filter, designed once instead of once per block
            max_rate = max(self.up, self.down)
            self._filter = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
        self._resample_poly = resample_poly
        self._gathered: list[np.ndarray] = []

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Output for as much of the stream as its right-hand context allows (maybe empty)."""
        self.total += x.size
        if self._resample_poly is None:
            self._gathered.append(np.array(x, dtype=np.float32))
            return np.zeros(0, dtype=np.float32)
        self.pending = np.concatenate([self.pending, x.astype(np.float32, copy=False)])
        ready = (self.total - self.pad - self.done) // self.down * self.down
        if ready <= 0:
            return np.zeros(0, dtype=np.float32)
        return self._emit(self.done + ready, self.done + ready + self.pad)

    def finish(self) -> np.ndarray:
        """The rest of the output: the end of the stream is zero-padded, as ``resample`` pads it."""
        if self._resample_poly is None:
            whole = np.concatenate(self._gathered) if self._gathered else np.zeros(0, dtype=np.float32)
            self._gathered = []
            return resample(whole, self.sr_from, self.sr_to)
        remaining = -(-self.total * self.up // self.down) - self.emitted
        if self.total == 0 or remaining <= 0:
            return np.zeros(0, dtype=np.float32)
        return self._emit(self.total, self.total)[:remaining]

    def _emit(self, end: int, context_end: int) -> np.ndarray:
        """Output for input [done, end), computed over [done - pad, context_end) of the stream
        (to the end of the output when ``end`` is the end of the stream)."""
        seg_start = max(0, self.done - self.pad)
        segment = self.pending[seg_start - self.base:context_end - self.base]
        y = self._resample_poly(segment, self.up, self.down, window=self._filter)
        skip = (self.done - seg_start) * self.up // self.down
        count = y.size - skip if end == self.total else (end - self.done) * self.up // self.down
        out = y[skip:skip + count].astype(np.float32)
        self.done = end
        keep_from = max(0, self.done - self.pad)
        self.pending = self.pending[keep_from - self.base:].copy()
        self.base = keep_from
        self.emitted += out.size
        return out


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

"""Human speech detection (privacy): find spans of speech so the server can mute them.

The detector looks for what sets speech apart from bird song and city noise:

* **voicing at a speaking pitch** – the normalised cross-correlation (NCCF) of the
  60–950 Hz band peaks at a period of 80–400 Hz (bird song sits higher and is removed by
  the band limit; a tone above 400 Hz is recognised by its shorter period);
* **low-frequency weight** of voiced frames: vowels carry much of their 60–4000 Hz energy
  below 1 kHz (energy above 4 kHz, where most birds sing, is ignored);
* **syllabic rhythm** – voiced runs of 50 ms or more that come and go (a voiced share of
  12–92 % in a 1 s window) and a 60–1000 Hz envelope whose modulation spectrum is dominated
  by 2–8 Hz (about 4 syllables per second); steady hums, horns and engines fail this;
* **intonation** – over a segment the pitch moves (std of log2 f0 0.04–0.45 octave): machine
  hums are flatter, noise jumps more;
* decisions are smoothed with a hangover, merged across short gaps and kept only when a
  segment holds enough voiced speech.

numpy only; the signal is brought to 16 kHz (and a 60–950 Hz copy to 8 kHz) with one FFT.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ml.runtime.quality import irfft, rfft, validate_samples

ANALYSIS_RATE = 16_000  # spectral features
PITCH_RATE = 8_000  # band-limited copy for the pitch search
FRAME = 512  # 32 ms at 16 kHz
HOP = 256  # 16 ms: 62.5 frames per second
PITCH_FRAME = 256  # 32 ms at 8 kHz
MIN_F0_HZ, MAX_F0_HZ = 80.0, 400.0
MIN_LAG = 8  # the lag search reaches up to 1 kHz so that higher tones are not taken for subharmonics
MAX_LAG = int(PITCH_RATE / MIN_F0_HZ)


@dataclass(frozen=True)
class SpeechParams:
    """Thresholds of :func:`detect_speech` (times in seconds)."""

    voicing: float = 0.6  # NCCF peak needed for a voiced frame
    min_low_share: float = 0.3  # 60-1000 Hz share of a voiced frame's 60-4000 Hz energy (birds above 4 kHz ignored)
    level_above_floor_db: float = 6.0  # 60-1000 Hz level above its 10th percentile over the clip
    min_voiced_run_s: float = 0.048  # shorter voiced runs are ignored (a syllable nucleus is longer)
    max_pitch_jump_octaves: float = 0.2  # a larger f0 jump between frames breaks a voiced run
    context_s: float = 1.0  # window for rhythm statistics
    min_voiced_density: float = 0.12  # share of voiced frames in the window, at least...
    max_voiced_density: float = 0.92  # ...and at most (steady voiced hums are not speech)
    min_modulation: float = 0.3  # share of 1-25 Hz envelope modulation that lies in 2-8 Hz
    hangover_s: float = 0.15  # spans are widened by this on both sides
    merge_gap_s: float = 0.4  # gaps shorter than this are closed
    min_segment_s: float = 0.3  # shorter segments are dropped
    min_voiced_s: float = 0.25  # a segment needs this much voiced speech in all...
    min_longest_run_s: float = 0.096  # ...and one voiced run at least this long
    min_f0_spread_octaves: float = 0.04  # std of log2 f0 over a segment: intonation moves the pitch...
    max_f0_spread_octaves: float = 0.45  # ...but not chaotically


@dataclass(frozen=True)
class SpeechReport:
    segments: tuple[tuple[float, float], ...]  # (start_s, end_s), sorted and disjoint
    speech_fraction: float  # share of the recording's duration inside segments
    duration_s: float = 0.0

    @property
    def has_speech(self) -> bool:
        return bool(self.segments)

    def to_dict(self) -> dict:
        return {"segments": [[round(s, 3), round(e, 3)] for s, e in self.segments],
                "speech_fraction": float(self.speech_fraction), "duration_s": float(self.duration_s)}


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


def band_resample(spectrum: np.ndarray, n_in: int, sr_in: int, sr_out: int,
                  low_hz: float, high_hz: float) -> np.ndarray:
    """Band-pass (soft edges) and resample a signal given its full rFFT: one inverse FFT."""
    n_out = max(int(round(n_in * sr_out / sr_in)), 2)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=np.complex64)
    m = min(keep, spectrum.size)
    out[:m] = spectrum[:m]
    f = np.fft.rfftfreq(n_out, 1.0 / sr_out)
    gain = np.clip((1.1 * high_hz - f) / (0.1 * high_hz), 0.0, 1.0)
    if low_hz > 0:
        gain *= np.clip((f - 0.8 * low_hz) / (0.2 * low_hz), 0.0, 1.0)
    return (irfft(out * gain, n=n_out) * (n_out / n_in)).astype(np.float32)


def frame_features(x16: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame level (dB, 60 Hz and up), 60-1000 Hz level (dB) and its share of 60-4000 Hz, at 16 kHz."""
    if x16.size < FRAME:
        x16 = np.pad(x16, (0, FRAME - x16.size))
    n = 1 + (x16.size - FRAME) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(x16, FRAME)[::HOP][:n]
    spec = rfft(frames * _hann(FRAME), axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    f = np.fft.rfftfreq(FRAME, 1.0 / ANALYSIS_RATE)
    total = power[:, f >= 60].sum(axis=1) + 1e-12
    low = power[:, (f >= 60) & (f <= 1000)].sum(axis=1)
    voice_band = power[:, (f >= 60) & (f <= 4000)].sum(axis=1) + 1e-12
    return {"level_db": 10 * np.log10(total), "low_db": 10 * np.log10(low + 1e-12),
            "low_share": low / voice_band}


def pitch_track(x8: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(peak NCCF, f0 in Hz) per frame of a band-limited 8 kHz signal, frames aligned to ``HOP``.

    The f0 is the shortest lag whose NCCF reaches 90 % of the best one (avoids octave errors).
    """
    hop8 = HOP * PITCH_RATE // ANALYSIS_RATE
    span = PITCH_FRAME + MAX_LAG
    x8 = np.pad(x8, (0, max(0, n_frames * hop8 + span - x8.size)))
    seg = np.lib.stride_tricks.sliding_window_view(x8.astype(np.float32), span)[::hop8][:n_frames]
    head = seg[:, :PITCH_FRAME]
    nfft = 1 << int(np.ceil(np.log2(span)))  # no wrap-around for lags 0..MAX_LAG
    corr = irfft(np.conj(rfft(head, nfft, axis=1)) * rfft(seg, nfft, axis=1), nfft, axis=1)[:, :MAX_LAG + 1]
    energy_head = np.einsum("ij,ij->i", head, head, dtype=np.float64)
    cums = np.concatenate([np.zeros((n_frames, 1)), np.cumsum(seg * seg, axis=1, dtype=np.float64)], axis=1)
    lags = np.arange(MAX_LAG + 1)
    energy_lag = cums[:, lags + PITCH_FRAME] - cums[:, lags]
    nccf = corr / np.sqrt(energy_head[:, None] * energy_lag + 1e-12)
    search = nccf[:, MIN_LAG:]
    best = search.max(axis=1)
    lag = np.argmax(search >= 0.9 * best[:, None], axis=1) + MIN_LAG
    rows = np.arange(n_frames)
    for _ in range(4):  # climb to the local maximum
        nxt = np.minimum(lag + 1, MAX_LAG)
        lag = np.where(nccf[rows, nxt] > nccf[rows, lag], nxt, lag)
    return best.astype(np.float32), (PITCH_RATE / lag).astype(np.float32)


def modulation_share(envelope_db: np.ndarray, window: int) -> np.ndarray:
    """Per frame, the share of 1-25 Hz envelope modulation in 2-8 Hz over a centred window."""
    padded = np.pad(envelope_db, (window // 2, window - window // 2 - 1), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(padded, window)
    win = win - win.mean(axis=1, keepdims=True)
    spec = np.abs(rfft(win * _hann(window), axis=1)) ** 2
    f = np.fft.rfftfreq(window, HOP / ANALYSIS_RATE)
    syllabic = spec[:, (f >= 2) & (f <= 8)].sum(axis=1)
    return syllabic / (spec[:, (f >= 1) & (f <= 25)].sum(axis=1) + 1e-12)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a boolean array."""
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def drop_short_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """``mask`` without True runs shorter than ``min_len``."""
    out = mask.copy()
    for s, e in zip(*_runs(mask)):
        if e - s < min_len:
            out[s:e] = False
    return out


def moving_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average with edge padding, same length as ``x``."""
    padded = np.pad(x.astype(np.float64), (window // 2, window - window // 2 - 1), mode="edge")
    c = np.concatenate(([0.0], np.cumsum(padded)))
    return (c[window:] - c[:-window]) / window


def group_runs(mask: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Frame ranges (start, end exclusive) of True runs, merging runs separated by < ``max_gap`` frames."""
    groups: list[list[int]] = []
    for s, e in zip(*_runs(mask)):
        if groups and s - groups[-1][1] < max_gap:
            groups[-1][1] = int(e)
        else:
            groups.append([int(s), int(e)])
    return [(s, e) for s, e in groups]


def segment_is_speech(mask: np.ndarray, f0: np.ndarray, params: SpeechParams) -> bool:
    """Evidence over one group of speech frames: enough voicing, one real syllable, living intonation."""
    frame_s = HOP / ANALYSIS_RATE
    starts, ends = _runs(mask)
    if starts.size == 0:
        return False
    voiced_s = float((ends - starts).sum()) * frame_s
    longest_s = float((ends - starts).max()) * frame_s
    spread = float(np.std(np.log2(f0[mask])))
    return (voiced_s >= params.min_voiced_s and longest_s >= params.min_longest_run_s
            and params.min_f0_spread_octaves <= spread <= params.max_f0_spread_octaves)


def frames_to_segments(mask: np.ndarray, f0: np.ndarray, duration: float,
                       params: SpeechParams | None = None) -> tuple[tuple[float, float], ...]:
    """Speech frames to (start_s, end_s) spans: gap merging, per-span evidence, hangover, minimum length.

    A span is kept when it holds ``min_voiced_s`` of speech frames, one voiced run of
    ``min_longest_run_s`` (a syllable, not a blip) and an f0 spread typical of intonation
    (steady hums and horns are flatter, chaotic noise jumps more).
    """
    params = params or SpeechParams()
    frame_s = HOP / ANALYSIS_RATE
    gap = int(np.ceil((params.merge_gap_s + 2 * params.hangover_s) / frame_s))
    spans: list[list[float]] = []
    for s, e in group_runs(mask, gap):
        if not segment_is_speech(mask[s:e], f0[s:e], params):
            continue
        t0 = max(0.0, s * frame_s - params.hangover_s)
        t1 = min(duration, e * frame_s + (FRAME - HOP) / ANALYSIS_RATE + params.hangover_s)
        if t1 - t0 < params.min_segment_s:
            continue
        if spans and t0 - spans[-1][1] < params.merge_gap_s:
            spans[-1][1] = t1
        else:
            spans.append([t0, t1])
    return tuple((float(t0), float(t1)) for t0, t1 in spans)


def split_at_pitch_jumps(voiced: np.ndarray, f0: np.ndarray, max_jump_octaves: float) -> np.ndarray:
    """``voiced`` keeping only frames whose f0 is within ``max_jump_octaves`` of the previous frame's estimate.

    The previous frame counts even when it is unvoiced, so a voiced run starts only once two
    consecutive pitch estimates agree, and octave errors break runs.
    """
    jump = np.abs(np.diff(np.log2(np.maximum(f0, 1.0)), prepend=np.log2(max(float(f0[0]), 1.0))))
    return voiced & (jump <= max_jump_octaves)


def speech_frames(samples: np.ndarray, sample_rate: int,
                  params: SpeechParams = SpeechParams()) -> tuple[np.ndarray, np.ndarray]:
    """Speech decision (bool) and f0 (Hz) per 16 ms frame, before segment-level checks."""
    x = validate_samples(samples, sample_rate)
    x = x - x.mean()
    spectrum = rfft(x)
    x16 = band_resample(spectrum, x.size, sample_rate, ANALYSIS_RATE, 0.0, 7600.0)
    x8 = band_resample(spectrum, x.size, sample_rate, PITCH_RATE, 60.0, 950.0)
    feats = frame_features(x16)
    n = feats["level_db"].size
    nccf, f0 = pitch_track(x8, n)
    low_db = feats["low_db"]
    floor = np.percentile(low_db, 10)
    voiced = ((nccf >= params.voicing) & (f0 >= MIN_F0_HZ) & (f0 <= MAX_F0_HZ)
              & (feats["low_share"] >= params.min_low_share)
              & (low_db >= floor + params.level_above_floor_db))
    frame_s = HOP / ANALYSIS_RATE
    voiced = split_at_pitch_jumps(voiced, f0, params.max_pitch_jump_octaves)
    voiced = drop_short_runs(voiced, max(1, int(round(params.min_voiced_run_s / frame_s))))
    window = max(4, int(round(params.context_s / frame_s)))
    density = moving_mean(voiced, window)
    modulation = modulation_share(feats["low_db"], window)
    rhythmic = ((density >= params.min_voiced_density) & (density <= params.max_voiced_density)
                & (modulation >= params.min_modulation))
    return voiced & rhythmic, f0


def detect_speech(samples: np.ndarray, sample_rate: int, params: SpeechParams = SpeechParams()) -> SpeechReport:
    """Find spans of human speech in a mono recording. Raises ValueError for empty or non-finite input."""
    x = validate_samples(samples, sample_rate)
    duration = x.size / float(sample_rate)
    mask, f0 = speech_frames(x, sample_rate, params)
    segments = frames_to_segments(mask, f0, duration, params)
    covered = sum(e - s for s, e in segments)
    return SpeechReport(segments=segments, speech_fraction=float(min(1.0, covered / duration)),
                        duration_s=float(duration))


def mute_segments(samples: np.ndarray, sample_rate: int, segments: Iterable[tuple[float, float]],
                  fade_s: float = 0.02) -> np.ndarray:
    """Copy of ``samples`` with each (start_s, end_s) span silenced.

    The span itself is exactly zero; raised-cosine fades of ``fade_s`` just outside it avoid
    clicks. Samples farther than ``fade_s`` from every span are left bit-identical.
    """
    x = np.array(samples, copy=True)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples of shape (n,), got {x.shape}")
    sr = int(sample_rate)
    if sr <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    n_fade = max(0, int(round(fade_s * sr)))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_fade) + 0.5) / max(n_fade, 1))  # 0 -> 1
    for start_s, end_s in segments:
        start = max(0, int(np.floor(float(start_s) * sr)))
        end = min(x.size, int(np.ceil(float(end_s) * sr)))
        if end <= start:
            continue
        x[start:end] = 0
        lo = max(0, start - n_fade)  # fade out before the span
        if start > lo:
            x[lo:start] = (x[lo:start] * ramp[::-1][n_fade - (start - lo):]).astype(x.dtype)
        hi = min(x.size, end + n_fade)  # fade in after it
        if hi > end:
            x[end:hi] = (x[end:hi] * ramp[: hi - end]).astype(x.dtype)
    return x

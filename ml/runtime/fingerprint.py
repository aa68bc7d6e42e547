"""Audio fingerprints for duplicate and replay detection.

* :func:`pcm_digest` — sha256 of the int16-quantised samples: the same audio in any lossless
  container gives the same digest.
* :func:`landmarks` — a Shazam-style landmark fingerprint: spectral peaks are paired and each
  pair (f1, f2, dt) is packed into a hash, stored with the anchor's frame. Survives lossy
  re-encoding, resampling, gain changes and some added noise; excerpts match their source.
* :func:`match` / :func:`is_duplicate` — count hash matches that agree on one time offset.

Everything is computed at :data:`RATE` (24 kHz, enough for birds up to 11 kHz) so that the
same audio at any sample rate gives the same hashes. numpy only (scipy, when present, only
for resampling).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ml.runtime.audio import resample
from ml.runtime.quality import rfft, validate_samples

RATE = 24_000
N_FFT = 1024  # 23.4 Hz bins
HOP = 128  # 5.3 ms frames (fine steps keep peaks stable when an excerpt starts off-grid)
FRAME_S = HOP / RATE
MIN_HZ, MAX_HZ = 250.0, 11_000.0
PEAK_FREQ_RADIUS = 8  # a peak is the maximum over ±8 bins (±190 Hz)...
PEAK_TIME_RADIUS = 10  # ...and ±10 frames (±53 ms)
PEAK_MIN_DB = 6.0  # and stands this far above its bin's mean level (dB) over the clip
PEAKS_PER_S = 10  # a peak is kept when at most this many are stronger within ±0.5 s
FAN_OUT = 3  # each anchor pairs with its next 3 peaks in the target zone
MAX_DT = 127  # target zone: 1..127 frames after the anchor (0.68 s)...
DT_BITS = 7
DT_MASK = (1 << DT_BITS) - 1
MAX_DF = 160  # ...and within ±160 bins (±3.75 kHz)
BIN_BITS = 9  # bins up to MAX_HZ (< 512): hash = f1 << 16 | f2 << 7 | dt, 25 bits
MAX_LANDMARKS_PER_S = PEAKS_PER_S * FAN_OUT  # hard cap: 30 per second
MAX_HASH_REPEAT = 64  # hashes repeated more often in one candidate are ignored when matching

# is_duplicate thresholds
MIN_MATCHED = 10  # matched landmarks on one offset
MIN_SCORE = 0.15  # matched / landmarks of the shorter fingerprint


@dataclass(frozen=True)
class MatchResult:
    matched: int  # landmarks matched at the best offset (±1 frame), each counted once
    score: float  # matched / min(len(query), len(candidate)), in [0, 1]
    offset_frames: int  # candidate frame - query frame at the best offset (frames of FRAME_S)

    @property
    def offset_s(self) -> float:
        return self.offset_frames * FRAME_S

    def to_dict(self) -> dict:
        return {"matched": int(self.matched), "score": float(self.score),
                "offset_frames": int(self.offset_frames), "offset_s": round(self.offset_s, 3)}


def pcm_digest(samples: np.ndarray) -> str:
    """sha256 (hex) of the samples quantised to int16 little-endian (x * 32768, clipped).

    Floats read from a 16-bit file (k / 32768) map back to exactly k, so WAV, FLAC and
    in-memory copies of the same 16-bit audio share one digest.
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples of shape (n,), got {x.shape}")
    if x.dtype == np.int16:
        q = x
    else:
        x = x.astype(np.float64)
        if not np.isfinite(x).all():
            raise ValueError("samples hold NaN or infinite values")
        q = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    return hashlib.sha256(q.astype("<i2").tobytes()).hexdigest()


def _sliding_max(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Maximum over a window of ±``radius`` along ``axis`` (edges padded with -inf).

    Window maxima by doubling: log2(window) vectorised ``np.maximum`` calls.
    """
    width = 2 * radius + 1
    a = np.moveaxis(a, axis, 0)
    pad = np.full((radius,) + a.shape[1:], -np.inf, dtype=a.dtype)
    m = np.concatenate([pad, a, pad])
    k = 1
    while 2 * k <= width:  # m[i] = max(padded[i : i + 2k])
        m = np.maximum(m[:-k], m[k:])
        k *= 2
    if k < width:
        m = np.maximum(m[: m.shape[0] - (width - k)], m[width - k:])
    return np.moveaxis(m, 0, axis)


@lru_cache(maxsize=2)
def _window(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def spectrogram_db(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Level in dB, shape (bins, frames), of the MIN_HZ..MAX_HZ bins of a 24 kHz signal, and the first bin's index."""
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    spec = rfft(frames * _window(N_FFT), axis=1)
    lo, hi = int(np.ceil(MIN_HZ * N_FFT / RATE)), int(MAX_HZ * N_FFT / RATE)
    spec = spec[:, lo:hi + 1]
    power = spec.real ** 2 + spec.imag ** 2
    return (10.0 * np.log10(power.T + 1e-10)).astype(np.float32), lo


def spectral_peaks(x: np.ndarray) -> np.ndarray:
    """(n, 3) array of (frame, bin, level_db) local maxima of a 24 kHz signal, sorted by frame then bin."""
    level, lo = spectrogram_db(x)
    floor = level.mean(axis=1, keepdims=True)  # mean dB per bin: the background of that band
    local_max = _sliding_max(_sliding_max(level, PEAK_FREQ_RADIUS, 0), PEAK_TIME_RADIUS, 1)
    is_peak = (level >= local_max) & (level >= floor + PEAK_MIN_DB) & (level > -90.0)
    bins, frames = np.nonzero(is_peak)
    order = np.lexsort((bins, frames))
    return np.stack([frames[order], bins[order] + lo, level[bins[order], frames[order]]], axis=1)


def thin_peaks(peaks: np.ndarray, per_second: int = PEAKS_PER_S) -> np.ndarray:
    """Keep a peak when fewer than ``per_second`` peaks within ±0.5 s are stronger.

    A local rule, so an excerpt keeps the same peaks as its source (away from the edges).
    """
    if len(peaks) <= per_second:
        return peaks
    frames, strength = peaks[:, 0], peaks[:, 2]
    half = int(round(0.5 / FRAME_S))
    left = np.searchsorted(frames, frames - half, side="left")
    right = np.searchsorted(frames, frames + half, side="right")
    width = int((right - left).max())
    idx = left[:, None] + np.arange(width)[None, :]
    valid = idx < right[:, None]
    neighbours = np.where(valid, strength[np.minimum(idx, len(peaks) - 1)], -np.inf)
    stronger = (neighbours > strength[:, None]).sum(axis=1)
    return peaks[stronger < per_second]


def pair_peaks(peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (n, 2) int64 (hash, anchor frame) from peaks sorted by frame, and each one's anchor index."""
    n = len(peaks)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
    frames, bins = peaks[:, 0].astype(np.int64), peaks[:, 1].astype(np.int64)
    look = np.searchsorted(frames, frames + MAX_DT, side="right")
    width = int((look - np.arange(n)).max())
    j = np.arange(n)[:, None] + 1 + np.arange(max(width, 1))[None, :]
    inside = j < look[:, None]
    jc = np.minimum(j, n - 1)
    dt = frames[jc] - frames[:, None]
    df = bins[jc] - bins[:, None]
    ok = inside & (dt >= 1) & (dt <= MAX_DT) & (np.abs(df) <= MAX_DF)
    ok &= np.cumsum(ok, axis=1) <= FAN_OUT  # the first FAN_OUT targets in time
    a, k = np.nonzero(ok)
    t = jc[a, k]
    hashes = (bins[a] << (BIN_BITS + DT_BITS)) | (bins[t] << DT_BITS) | dt[a, k]
    return np.stack([hashes, frames[a]], axis=1).astype(np.int64), a.astype(np.int64)


def landmarks(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Landmark fingerprint, shape (n, 2) int64: column 0 a hash (< 2**32) of (f1, f2, dt), column 1 the anchor frame.

    At most 30 landmarks per second of audio. Raises ValueError for empty or non-finite input.
    """
    x = validate_samples(samples, sample_rate)
    x = resample(x - x.mean(), int(sample_rate), RATE)
    peaks = thin_peaks(spectral_peaks(x), PEAKS_PER_S)
    marks, anchor = pair_peaks(peaks)
    cap = max(MAX_LANDMARKS_PER_S, int(MAX_LANDMARKS_PER_S * x.size / RATE))
    if len(marks) > cap:  # rare: keep the landmarks of the strongest anchors
        strongest = np.argsort(-peaks[anchor, 2], kind="stable")[:cap]
        marks = marks[np.sort(strongest)]
    return marks


def _probes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hashes to look up for each query landmark: its own and those with dt ± 1 (frame-grid jitter).

    Returns (hashes, query index) of all probes.
    """
    dt = q[:, 0] & DT_MASK
    hashes, owners = [q[:, 0]], [np.arange(len(q))]
    for step, ok in ((-1, dt > 1), (1, dt < MAX_DT)):
        hashes.append(q[ok, 0] + step)
        owners.append(np.flatnonzero(ok))
    return np.concatenate(hashes), np.concatenate(owners)


def lookup_hashes(query: np.ndarray) -> np.ndarray:
    """Sorted unique hashes to fetch from an inverted index so that :func:`match` sees every
    candidate landmark it can use: the query's own hashes and their dt ± 1 neighbours.

    Use it to *find* candidates; to *score* one, pass its whole fingerprint to :func:`match`
    (the score divides by the candidate's landmark count, which a hash subset understates).
    """
    q = np.asarray(query, dtype=np.int64).reshape(-1, 2)
    return np.unique(_probes(q)[0]) if len(q) else np.zeros(0, dtype=np.int64)


def match(query: np.ndarray, candidate: np.ndarray) -> MatchResult:
    """Count query landmarks whose hash occurs in ``candidate`` at one consistent time offset.

    Frame-grid jitter is tolerated: dt may differ by one frame and the offset by ±1 frame.
    Both arguments must be whole fingerprints from :func:`landmarks`: the score is
    matched / min(len(query), len(candidate)).
    """
    q = np.asarray(query, dtype=np.int64).reshape(-1, 2)
    c = np.asarray(candidate, dtype=np.int64).reshape(-1, 2)
    if len(q) == 0 or len(c) == 0:
        return MatchResult(0, 0.0, 0)
    c = c[np.argsort(c[:, 0], kind="stable")]
    probe_hash, probe_owner = _probes(q)
    lo = np.searchsorted(c[:, 0], probe_hash, side="left")
    hi = np.searchsorted(c[:, 0], probe_hash, side="right")
    counts = hi - lo
    counts[counts > MAX_HASH_REPEAT] = 0
    total = int(counts.sum())
    if total == 0:
        return MatchResult(0, 0.0, 0)
    qi = np.repeat(probe_owner, counts)
    ci = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(total)
    offsets = c[ci, 1] - q[qi, 1]
    base = offsets.min()
    hist = np.bincount(offsets - base)
    smoothed = np.convolve(hist, np.ones(3, dtype=np.int64), mode="same")
    peak = int(np.argmax(smoothed))
    lo_bin = max(peak - 1, 0)
    best = lo_bin + int(np.argmax(hist[lo_bin:peak + 2])) + int(base)
    near = np.abs(offsets - best) <= 1
    matched = min(np.unique(qi[near]).size, np.unique(ci[near]).size)
    score = matched / min(len(q), len(c))
    return MatchResult(matched=int(matched), score=float(min(score, 1.0)), offset_frames=best)


def is_duplicate(result: MatchResult, min_matched: int = MIN_MATCHED, min_score: float = MIN_SCORE) -> bool:
    """True when a match is strong enough to call the two recordings the same audio.

    Defaults: at least 10 landmarks on one offset and a score of at least 0.15.
    """
    return result.matched >= min_matched and result.score >= min_score

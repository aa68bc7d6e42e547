"""Integrated loudness (ITU-R BS.1770-4 / EBU R128) in LUFS, numpy only.

K-weighting is applied in the frequency domain with the exact magnitude of the standard's two
biquads (high shelf + RLB high-pass, coefficients derived for any sample rate as in the
standard's 48 kHz prototype); loudness depends only on power, so phase does not matter.
Gating: 400 ms blocks with 75 % overlap, absolute gate −70 LUFS, relative gate −10 LU.
"""
from __future__ import annotations

import numpy as np


def _shelf(fs: float) -> tuple[np.ndarray, np.ndarray]:
    g, q, fc = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = np.tan(np.pi * fc / fs)
    vh, vb = 10 ** (g / 20), (10 ** (g / 20)) ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    b = np.array([vh + vb * k / q + k * k, 2 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return b, a


def _highpass(fs: float) -> tuple[np.ndarray, np.ndarray]:
    q, fc = 0.5003270373238773, 38.13547087602444
    k = np.tan(np.pi * fc / fs)
    a0 = 1 + k / q + k * k
    return np.array([1.0, -2.0, 1.0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])


def k_weighting_power(freqs: np.ndarray, fs: float) -> np.ndarray:
    """|H(f)|² of the K-weighting filter at ``freqs`` Hz."""
    z = np.exp(-1j * 2 * np.pi * freqs / fs)
    out = np.ones_like(freqs, dtype=np.float64)
    for b, a in (_shelf(fs), _highpass(fs)):
        h = (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
        out *= np.abs(h) ** 2
    return out


def integrated_loudness(x: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of a mono (n,) or multichannel (n, c) signal; -inf if silent."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    block, hop = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if n < block:
        x = np.pad(x, ((0, block - n), (0, 0)))
        n = block
    nfft = 1 << int(np.ceil(np.log2(n + sample_rate)))
    spec = np.fft.rfft(x, n=nfft, axis=0)
    weight = np.sqrt(k_weighting_power(np.fft.rfftfreq(nfft, 1.0 / sample_rate), sample_rate))
    y = np.fft.irfft(spec * weight[:, None], n=nfft, axis=0)[:n]
    sq = np.concatenate([np.zeros((1, y.shape[1])), np.cumsum(y ** 2, axis=0)])
    starts = np.arange(0, n - block + 1, hop)
    z = (sq[starts + block] - sq[starts]) / block          # (blocks, channels) mean squares
    power = z.sum(axis=1)                                  # channel weights 1 (L, R, C)
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(power)
    keep = lk > -70.0
    if not np.any(keep):
        return float("-inf")
    rel = -0.691 + 10 * np.log10(power[keep].mean()) - 10.0
    keep &= lk > rel
    return float(-0.691 + 10 * np.log10(power[keep].mean()))


def running_min(x: np.ndarray, half: int) -> np.ndarray:
    """min(x[i - half : i + half + 1]) for every i (van Herk / Gil-Werman, O(n))."""
    w = 2 * half + 1
    n = x.size
    padded = np.concatenate([np.full(half, np.inf), x, np.full(half + w, np.inf)])
    m = -(-padded.size // w) * w
    padded = np.concatenate([padded, np.full(m - padded.size, np.inf)]).reshape(-1, w)
    pre = np.minimum.accumulate(padded, axis=1).ravel()
    suf = np.minimum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].ravel()
    i = np.arange(n)
    return np.minimum(suf[i], pre[i + w - 1])


def limit_peaks(x: np.ndarray, sample_rate: int, peak_limit: float, lookahead_s: float = 0.005) -> np.ndarray:
    """Smooth look-ahead peak limiting (gain = box-averaged running minimum of the needed gain).

    Every averaged gain value comes from a window that contains the sample, so no sample passes
    ``peak_limit``; the gain moves over ``lookahead_s`` (no clicks).
    """
    x = np.asarray(x, dtype=np.float64)
    peak = np.max(np.abs(x), axis=1) if x.ndim == 2 else np.abs(x)
    need = np.minimum(1.0, peak_limit / np.maximum(peak, 1e-12))
    half = max(int(lookahead_s * sample_rate) // 2, 1)
    g = running_min(need, 2 * half)
    c = np.concatenate([[0.0], np.cumsum(np.pad(g, (half, half), mode="edge"))])
    g = (c[2 * half + 1:] - c[: -2 * half - 1]) / (2 * half + 1)
    return x * (g[:, None] if x.ndim == 2 else g)


def normalise(x: np.ndarray, sample_rate: int, target_lufs: float = -16.0,
              peak_limit: float = 0.891, iterations: int = 4) -> tuple[np.ndarray, float]:
    """Bring ``x`` to ``target_lufs``, limiting peaks above ``peak_limit``; returns (y, LUFS of y)."""
    y = np.asarray(x, dtype=np.float64)
    lufs = integrated_loudness(y, sample_rate)
    if not np.isfinite(lufs):
        return np.zeros_like(y, dtype=np.float32), lufs
    for _ in range(iterations):
        y = limit_peaks(y * 10 ** ((target_lufs - lufs) / 20), sample_rate, peak_limit)
        lufs = integrated_loudness(y, sample_rate)
        if abs(lufs - target_lufs) < 0.05:
            break
    y = np.clip(y, -peak_limit, peak_limit)       # exact already; guards float rounding only
    return y.astype(np.float32), integrated_loudness(y, sample_rate)

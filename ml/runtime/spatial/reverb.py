"""A small feedback-delay-network reverb (numpy only), vectorised in chunks.

Eight delay lines (mutually prime lengths, 29–67 ms at 48 kHz, scaled with ``size``) feed back
through an orthogonal Householder matrix; each line's gain g_i = 10^(−3 d_i / (RT60 · fs))
gives the requested reverberation time. Because every delay is at least the chunk length, a
chunk's line outputs depend only on earlier chunks, so the recursion runs one matrix product
per chunk instead of one per sample. Stereo comes from two orthogonal output taps.
"""
from __future__ import annotations

import numpy as np

BASE_DELAYS_48K = np.array([1399, 1637, 1871, 2129, 2399, 2647, 2903, 3217])


def _primes_near(values: np.ndarray) -> np.ndarray:
    out = []
    for v in values:
        n = max(int(v), 3)
        while any(n % p == 0 for p in range(2, int(n ** 0.5) + 1)) or n in out:
            n += 1
        out.append(n)
    return np.array(out, dtype=np.int64)


def fdn_reverb(x: np.ndarray, sample_rate: int, rt60_s: float = 1.2, size: float = 1.0,
               tail_s: float | None = None) -> np.ndarray:
    """Wet stereo (n + tail, 2) response of a mono ``x``; the tail defaults to the RT60."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    delays = _primes_near(BASE_DELAYS_48K * size * sample_rate / 48_000)
    lines = delays.size
    feedback = np.eye(lines) - 2.0 / lines * np.ones((lines, lines))          # Householder
    gains = 10 ** (-3.0 * delays / (max(rt60_s, 0.05) * sample_rate))
    b = np.ones(lines) / np.sqrt(lines)
    c = np.stack([np.where(np.arange(lines) % 2 == 0, 1.0, -1.0),
                  np.where(np.arange(lines) % 4 < 2, 1.0, -1.0)], axis=0) / np.sqrt(lines)
    tail = int((rt60_s if tail_s is None else tail_s) * sample_rate)
    n = x.size + tail
    dmax, chunk = int(delays.max()), int(delays.min())
    state = np.zeros((lines, dmax + n))            # state[:, dmax + t] = line input at time t
    xin = np.concatenate([x, np.zeros(tail)])
    out = np.zeros((n, 2))
    for t0 in range(0, n, chunk):
        t1 = min(t0 + chunk, n)
        reads = np.stack([state[i, dmax + t0 - d: dmax + t1 - d] for i, d in enumerate(delays)])
        out[t0:t1] = (c @ reads).T
        state[:, dmax + t0: dmax + t1] = feedback @ (gains[:, None] * reads) + b[:, None] * xin[t0:t1]
    return out


def decay_time_s(impulse_response: np.ndarray, sample_rate: int) -> float:
    """RT60 estimated from the Schroeder backward integral (T20: −5 to −25 dB, times 3)."""
    e = np.asarray(impulse_response, np.float64) ** 2
    if e.ndim == 2:
        e = e.sum(axis=1)
    edc = np.cumsum(e[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
    t5, t25 = np.argmax(edc_db <= -5.0), np.argmax(edc_db <= -25.0)
    return 3.0 * (t25 - t5) / sample_rate

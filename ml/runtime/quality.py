"""Recording quality checks: duration, silence, clipping, SNR and band plausibility.

:func:`check_quality` runs on the phone before upload and again on the server. It never
drops a recording silently: every problem becomes a :class:`QualityIssue` with a stable
``code`` and a ``severity`` ("reject" or "warn") that the caller explains to the player.
numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

REJECT = "reject"
WARN = "warn"
_DB_FLOOR = -200.0  # dB value reported for digital silence (keeps metrics JSON-ready)


@dataclass(frozen=True)
class QualityLimits:
    """Thresholds of :func:`check_quality` (SI units; levels in dB relative to full scale)."""

    min_duration_s: float = 0.5  # shorter: too_short (reject)
    max_duration_s: float = 300.0  # longer: too_long (reject)
    silent_peak_dbfs: float = -60.0  # peak below this: silent (reject)
    silent_rms_dbfs: float = -75.0  # or RMS below this: silent (reject)
    clip_level: float = 0.999  # |x| at or above this counts as clipped
    max_clipped_fraction: float = 1e-3  # clipped (or flat-topped) samples above this: clipped (reject)
    warn_clipped_fraction: float = 1e-4  # above this: clipped (warn)
    flat_run_samples: int = 4  # runs of >= this many equal samples at the peak form a flat top
    flat_min_peak: float = 0.25  # flat tops are only looked for when the peak reaches this
    frame_s: float = 0.02  # frame length for the SNR estimate
    snr_high_percentile: float = 95.0  # "signal" frame energy
    snr_low_percentile: float = 10.0  # "noise" frame energy
    reject_snr_db: float = 3.0  # SNR below this: low_snr (reject)
    warn_snr_db: float = 10.0  # SNR below this: low_snr (warn)
    band_margin: float = 1.5  # claimed band widened to [low / margin, high * margin]
    noise_percentile: float = 20.0  # per-frequency noise floor: this percentile over time
    noise_factor: float = 2.0  # energy counts as signal where it exceeds floor x this (3 dB)
    # The band check weighs above-floor energy with A-weighting, so wind and handling rumble
    # do not outweigh the calls; a claimed band below ~200 Hz must then clearly dominate.
    reject_band_fraction: float = 0.2  # in-band share of signal energy below this: reject
    warn_band_fraction: float = 0.5  # below this: warn
    min_hz: float = 50.0  # frequencies below this are ignored by the band check (rumble)


@dataclass(frozen=True)
class QualityIssue:
    code: str
    message: str
    severity: str  # "reject" or "warn"

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class QualityReport:
    passed: bool  # False iff some issue has severity "reject"
    issues: tuple[QualityIssue, ...]
    metrics: dict[str, float]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(issue.code for issue in self.issues)

    def to_dict(self) -> dict:
        return {"passed": bool(self.passed),
                "issues": [issue.to_dict() for issue in self.issues],
                "metrics": {k: float(v) for k, v in self.metrics.items()}}


def rfft(x: np.ndarray, n: int | None = None, axis: int = -1) -> np.ndarray:
    """Real FFT: scipy.fft when installed (keeps float32 fast), else numpy in float64 (numpy 2.x is
    slower on float32 input than on float64; docs/performance.md)."""
    try:
        from scipy import fft as _fft
    except ImportError:
        return np.fft.rfft(np.asarray(x, dtype=np.float64), n=n, axis=axis)
    return _fft.rfft(x, n=n, axis=axis)


def irfft(spectrum: np.ndarray, n: int | None = None, axis: int = -1) -> np.ndarray:
    """Inverse of :func:`rfft` (scipy.fft when installed, else numpy)."""
    try:
        from scipy import fft as _fft
    except ImportError:
        return np.fft.irfft(spectrum, n=n, axis=axis)
    return _fft.irfft(spectrum, n=n, axis=axis)


def to_db(power: float | np.ndarray) -> float | np.ndarray:
    """10·log10 of a power, floored at -200 dB so silence stays finite."""
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-20)), _DB_FLOOR)


def validate_samples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 samples (full scale ±1; integer PCM is scaled); ValueError when empty, non-finite or not 1-D."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples of shape (n,), got {x.shape}")
    if x.size == 0:
        raise ValueError("no samples")
    if np.issubdtype(x.dtype, np.signedinteger):
        x = x.astype(np.float32) / np.float32(-np.iinfo(x.dtype).min)
    elif not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"samples must be float or signed integer PCM, got {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError("samples hold NaN or infinite values")
    if int(sample_rate) <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return x


def clipped_fraction(x: np.ndarray, level: float = 0.999) -> float:
    """Share of samples whose magnitude is at or above ``level``."""
    return float(np.count_nonzero(np.abs(x) >= level)) / x.size


def flat_top_fraction(x: np.ndarray, peak: float, min_run: int = 4, min_peak: float = 0.25) -> float:
    """Share of samples in runs of >= ``min_run`` equal samples at ±``peak`` (clipping below 1.0)."""
    if peak < min_peak or x.size < min_run:
        return 0.0
    at_peak = np.abs(x) >= peak
    if np.count_nonzero(at_peak) < min_run:
        return 0.0
    # Runs of equal consecutive samples among those at the peak.
    same = at_peak[1:] & at_peak[:-1] & (x[1:] == x[:-1])
    edges = np.diff(np.concatenate(([0], same.view(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts + 1  # a run of k equal pairs spans k + 1 samples
    return float(lengths[lengths >= min_run].sum()) / x.size


@lru_cache(maxsize=8)
def _window(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1].astype(np.float32)


def frame_spectrogram(x: np.ndarray, sample_rate: int, frame_s: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrogram (frames, bins) with non-overlapping Hann frames of ~``frame_s``, and bin frequencies."""
    n = 1 << max(6, int(round(np.log2(max(frame_s * sample_rate, 64)))))
    if x.size < n:
        x = np.pad(x, (0, n - x.size))
    n_frames = x.size // n
    frames = x[: n_frames * n].reshape(n_frames, n) * _window(n)
    spec = rfft(frames, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    return power, np.fft.rfftfreq(n, 1.0 / sample_rate)


def snr_db(frame_energy: np.ndarray, high: float = 95.0, low: float = 10.0) -> float:
    """SNR estimate in dB: a high percentile of frame energies over a low one."""
    hi, lo = np.percentile(frame_energy, [high, low])
    if hi <= 0:
        return 0.0
    return float(to_db(hi) - to_db(max(lo, hi * 1e-12)))


def signal_spectrum(power: np.ndarray, noise_percentile: float = 20.0, noise_factor: float = 2.0) -> np.ndarray:
    """Energy per frequency bin that stands above that bin's noise floor, summed over frames."""
    floor = np.percentile(power, noise_percentile, axis=0)
    return np.maximum(power - noise_factor * floor, 0.0).sum(axis=0)


def a_weighting(freqs: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting as a power gain (1.0 at 1 kHz): tames wind and handling rumble."""
    f2 = np.square(np.asarray(freqs, dtype=np.float64))
    ra = 12194.0 ** 2 * f2 * f2 / ((f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2))
                                   * (f2 + 12194.0 ** 2))
    return np.square(ra / 0.7943282347242815)  # ra(1 kHz) = 10^(-2 dB / 20)


def band_energy_fraction(excess: np.ndarray, freqs: np.ndarray, band: tuple[float, float],
                         margin: float = 1.5, min_hz: float = 50.0) -> float:
    """Share of above-floor energy (from ``min_hz`` up) inside ``band`` widened by ``margin``.

    ``excess`` should already be weighted (see :func:`a_weighting`).
    """
    low, high = band[0] / margin, band[1] * margin
    usable = freqs >= min_hz
    total = float(excess[usable].sum())
    if total <= 0:
        return 0.0
    inside = usable & (freqs >= low) & (freqs <= high)
    return float(excess[inside].sum()) / total


@lru_cache(maxsize=8)
def _a_weights(n_bins: int, sample_rate: int) -> np.ndarray:
    return a_weighting(np.linspace(0.0, sample_rate / 2, n_bins)).astype(np.float32)


def _check_band(band: tuple[float, float] | None) -> tuple[float, float] | None:
    if band is None:
        return None
    low, high = float(band[0]), float(band[1])
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high):
        raise ValueError(f"band must be (low_hz, high_hz) with 0 <= low < high, got {band}")
    return low, high


def check_quality(samples: np.ndarray, sample_rate: int, band: tuple[float, float] | None = None,
                  limits: QualityLimits = QualityLimits()) -> QualityReport:
    """Check a mono recording; ``band`` is the frequency range plausible for the claimed class.

    Raises ValueError for empty, non-finite or non-mono input.
    """
    x = validate_samples(samples, sample_rate)
    band = _check_band(band)
    sr = int(sample_rate)
    issues: list[QualityIssue] = []
    duration = x.size / sr
    peak = float(np.abs(x).max())
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    rms_dbfs = float(to_db(rms * rms))
    peak_dbfs = float(to_db(peak * peak))
    clipped = max(clipped_fraction(x, limits.clip_level),
                  flat_top_fraction(x, peak, limits.flat_run_samples, limits.flat_min_peak))
    power, freqs = frame_spectrogram(x, sr, limits.frame_s)
    usable = freqs >= limits.min_hz
    frame_energy = power[:, usable].sum(axis=1)
    snr = snr_db(frame_energy, limits.snr_high_percentile, limits.snr_low_percentile)
    excess = signal_spectrum(power, limits.noise_percentile, limits.noise_factor) * _a_weights(len(freqs), sr)
    spectrum = excess if excess[usable].sum() > 0 else power.sum(axis=0) * _a_weights(len(freqs), sr)
    dominant = float(freqs[usable][np.argmax(spectrum[usable])]) if usable.any() else 0.0
    metrics = {"duration_s": duration, "peak": peak, "peak_dbfs": peak_dbfs, "rms_dbfs": rms_dbfs,
               "clipped_fraction": clipped, "snr_db": snr, "dominant_hz": dominant}

    if duration < limits.min_duration_s:
        issues.append(QualityIssue("too_short", f"The recording lasts {duration:.2f} s; "
                                   f"at least {limits.min_duration_s:g} s are needed.", REJECT))
    if duration > limits.max_duration_s:
        issues.append(QualityIssue("too_long", f"The recording lasts {duration:.0f} s; "
                                   f"the limit is {limits.max_duration_s:g} s.", REJECT))
    silent = peak_dbfs < limits.silent_peak_dbfs or rms_dbfs < limits.silent_rms_dbfs
    if silent:
        issues.append(QualityIssue("silent", f"The recording is almost silent (peak {peak_dbfs:.0f} dBFS, "
                                   f"RMS {rms_dbfs:.0f} dBFS).", REJECT))
    if clipped > limits.max_clipped_fraction:
        issues.append(QualityIssue("clipped", f"{clipped:.2%} of the samples are clipped; "
                                   "lower the input gain or move away from the source.", REJECT))
    elif clipped > limits.warn_clipped_fraction:
        issues.append(QualityIssue("clipped", f"{clipped:.3%} of the samples are clipped.", WARN))
    judge_content = not silent and duration >= limits.min_duration_s
    if judge_content and snr < limits.reject_snr_db:
        issues.append(QualityIssue("low_snr", f"The sound hardly stands out from the background "
                                   f"(SNR {snr:.1f} dB).", REJECT))
    elif judge_content and snr < limits.warn_snr_db:
        issues.append(QualityIssue("low_snr", f"The background is loud (SNR {snr:.1f} dB).", WARN))
    if band is not None:
        fraction = band_energy_fraction(excess, freqs, band, limits.band_margin, limits.min_hz)
        metrics["band_energy_fraction"] = fraction
        where = f"{band[0]:.0f}-{band[1]:.0f} Hz"
        if judge_content and fraction < limits.reject_band_fraction:
            issues.append(QualityIssue("implausible_band", f"Only {fraction:.0%} of the sound lies in {where}, "
                                       "the range expected for the chosen species.", REJECT))
        elif judge_content and fraction < limits.warn_band_fraction:
            issues.append(QualityIssue("implausible_band", f"Much of the sound lies outside {where} "
                                       f"({fraction:.0%} inside).", WARN))
    passed = not any(issue.severity == REJECT for issue in issues)
    return QualityReport(passed=passed, issues=tuple(issues), metrics={k: float(v) for k, v in metrics.items()})

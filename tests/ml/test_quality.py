"""Recording quality checks on real fixture clips (ml.runtime.quality)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ml.runtime.quality import QualityIssue, QualityLimits, QualityReport, check_quality

BIRD = "XC173620_adelaides_warbler.ogg"  # Adelaide's Warbler song, 2-10 kHz, 48 kHz Ogg
BIRD_BAND = (1000.0, 8000.0)


def rejected(report: QualityReport) -> set[str]:
    return {i.code for i in report.issues if i.severity == "reject"}


@pytest.mark.parametrize("sample_rate", [None, 24_000])
def test_real_bird_clip_passes(load_clip, sample_rate):
    x, sr = load_clip(BIRD, sample_rate)
    report = check_quality(x, sr, band=BIRD_BAND)
    assert report.passed, report.issues
    assert report.issues == ()
    m = report.metrics
    assert m["duration_s"] == pytest.approx(6.0, abs=0.01)
    assert 0 < m["peak"] < 1 and -60 < m["rms_dbfs"] < 0
    assert m["clipped_fraction"] == 0.0
    assert m["snr_db"] > 20
    assert m["band_energy_fraction"] > 0.9
    assert 2000 < m["dominant_hz"] < 10_000


def test_every_bird_fixture_passes_with_its_plausible_band(load_clip, audio_manifest):
    bird_ogg = [r["file"] for r in audio_manifest if r["kind"] == "bird" and r["file"].endswith(".ogg")]
    assert len(bird_ogg) >= 8
    for name in bird_ogg:
        x, sr = load_clip(name)
        report = check_quality(x, sr, band=(250.0, 10_000.0))
        assert report.passed, (name, report.issues)


def test_amplified_and_clipped_copy_is_rejected(load_clip):
    x, sr = load_clip(BIRD)
    hot = np.clip(x * 20.0, -1.0, 1.0)
    report = check_quality(hot, sr, band=BIRD_BAND)
    assert not report.passed
    assert "clipped" in rejected(report)
    assert report.metrics["clipped_fraction"] > 1e-3


def test_flat_tops_below_full_scale_count_as_clipping(load_clip):
    x, sr = load_clip(BIRD)
    flat = np.clip(x * 20.0, -0.5, 0.5)  # a recorder chain that limits at half scale
    report = check_quality(flat, sr)
    assert "clipped" in rejected(report)


def test_quiet_copy_is_silent(load_clip):
    x, sr = load_clip(BIRD)
    report = check_quality(x * 1e-5, sr, band=BIRD_BAND)
    assert not report.passed
    assert rejected(report) == {"silent"}


def test_digital_silence_is_silent_with_finite_metrics():
    report = check_quality(np.zeros(24_000, dtype=np.float32), 24_000)
    assert rejected(report) == {"silent"}
    assert all(np.isfinite(v) for v in report.metrics.values())


def test_short_cut_is_too_short(load_clip):
    x, sr = load_clip(BIRD)
    report = check_quality(x[: int(0.2 * sr)], sr, band=BIRD_BAND)
    assert not report.passed
    assert "too_short" in rejected(report)
    assert report.metrics["duration_s"] == pytest.approx(0.2, abs=1e-3)


def test_long_recording_is_too_long(load_clip):
    x, sr = load_clip(BIRD, 8_000)
    long = np.tile(x, int(np.ceil(301 * sr / x.size)))[: 301 * sr]
    report = check_quality(long, sr)
    assert rejected(report) == {"too_long"}


def test_bird_swamped_by_white_noise_has_low_snr(load_clip):
    x, sr = load_clip(BIRD)
    rms = float(np.sqrt(np.mean(x ** 2)))
    noise = np.random.default_rng(7).normal(0.0, 10 * rms, x.size).astype(np.float32)
    report = check_quality(x + noise, sr, band=BIRD_BAND)
    assert not report.passed
    assert "low_snr" in rejected(report)
    assert report.metrics["snr_db"] < 3.0


def test_moderate_noise_only_warns(load_clip):
    x, sr = load_clip(BIRD)
    report = check_quality(x, sr, limits=QualityLimits(warn_snr_db=100.0))
    assert report.passed
    assert [(i.code, i.severity) for i in report.issues] == [("low_snr", "warn")]


def test_band_far_below_the_song_is_implausible(load_clip):
    x, sr = load_clip(BIRD)
    low = check_quality(x, sr, band=(20.0, 200.0))
    assert not low.passed
    assert rejected(low) == {"implausible_band"}
    assert low.metrics["band_energy_fraction"] < 0.2
    plausible = check_quality(x, sr, band=BIRD_BAND)
    assert "implausible_band" not in {i.code for i in plausible.issues}


def test_low_owl_fits_a_low_band(load_clip):
    x, sr = load_clip("XC308530_puerto_rican_owl.ogg")
    report = check_quality(x, sr, band=(250.0, 4000.0))
    assert report.passed and "implausible_band" not in report.codes


@pytest.mark.parametrize("bad", [np.zeros(0, dtype=np.float32),
                                 np.array([0.1, np.nan, 0.2], dtype=np.float32),
                                 np.array([0.1, np.inf, 0.2]),
                                 np.zeros((2, 100), dtype=np.float32)])
def test_invalid_input_raises(bad):
    with pytest.raises(ValueError):
        check_quality(bad, 24_000)


def test_invalid_band_or_rate_raises(load_clip):
    x, sr = load_clip(BIRD)
    with pytest.raises(ValueError):
        check_quality(x, sr, band=(8000.0, 1000.0))
    with pytest.raises(ValueError):
        check_quality(x, 0)


def test_report_is_json_ready_and_passed_follows_severity(load_clip):
    x, sr = load_clip(BIRD)
    report = check_quality(np.clip(x * 20, -1, 1)[: int(0.3 * sr)], sr, band=(20.0, 200.0))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False
    assert {i["code"] for i in data["issues"]} >= {"too_short", "clipped"}
    assert all(i["severity"] in ("reject", "warn") for i in data["issues"])
    assert set(data["metrics"]) >= {"duration_s", "peak", "rms_dbfs", "clipped_fraction", "snr_db",
                                    "band_energy_fraction", "dominant_hz"}
    warn_only = QualityReport(passed=True, issues=(QualityIssue("low_snr", "m", "warn"),), metrics={})
    assert warn_only.to_dict()["passed"] is True


def test_integer_pcm_is_read_at_full_scale(load_clip):
    x, sr = load_clip(BIRD, 24_000)
    pcm = np.round(x * 32767).astype(np.int16)
    as_float = check_quality(x, sr, band=BIRD_BAND)
    as_int = check_quality(pcm, sr, band=BIRD_BAND)
    assert as_int.passed and as_int.metrics["peak"] == pytest.approx(as_float.metrics["peak"], abs=1e-3)

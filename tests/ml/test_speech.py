"""Speech (privacy) detection and muting on real fixture clips (ml.runtime.speech)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ml.runtime.speech import SpeechReport, detect_speech, mute_segments

SPEECH = "speech_espeak.wav"  # synthesised with espeak-ng, 16 kHz, ~3.9 s
BIRD = "XC173620_adelaides_warbler.ogg"
SR = 24_000


def speech_excerpt(load_clip, seconds: float) -> np.ndarray:
    """``seconds`` of the speech clip from its first word, at 24 kHz."""
    x, sr = load_clip(SPEECH, SR)
    onset = int(np.flatnonzero(np.abs(x) > 0.01)[0])
    return x[onset: onset + int(seconds * sr)]


def mix_in(background: np.ndarray, speech: np.ndarray, at_s: float, snr_db: float) -> np.ndarray:
    """``background`` with ``speech`` added from ``at_s``, speech RMS ``snr_db`` above the background's."""
    gain = np.sqrt(np.mean(background ** 2) / np.mean(speech ** 2)) * 10 ** (snr_db / 20)
    out = background.copy()
    start = int(at_s * SR)
    out[start: start + speech.size] += gain * speech
    return out / max(1.0, float(np.abs(out).max()))


@pytest.mark.parametrize("sample_rate", [None, SR])
def test_speech_clip_is_detected(load_clip, sample_rate):
    x, sr = load_clip(SPEECH, sample_rate)
    report = detect_speech(x, sr)
    assert report.speech_fraction > 0.5
    assert report.segments and report.duration_s == pytest.approx(x.size / sr)


def test_bird_fixtures_are_not_speech(load_clip, audio_manifest):
    birds = [r["file"] for r in audio_manifest if r["kind"] == "bird"]
    assert len(birds) >= 8
    for name in birds:
        x, sr = load_clip(name)
        assert detect_speech(x, sr).speech_fraction < 0.2, name


@pytest.mark.parametrize("name", ["US8K_159738-8-0-16_siren.ogg", "US8K_130030-3-0-0_dog_bark.ogg",
                                  "US8K_174840-1-0-0_car_horn.ogg", "US8K_165775-7-1-0_jackhammer.ogg",
                                  "BioDCASE26_TEST_0001_Background.wav"])
def test_city_sounds_are_not_speech(load_clip, name):
    x, sr = load_clip(name)
    assert detect_speech(x, sr).speech_fraction < 0.2


@pytest.mark.parametrize("bird", [BIRD, "XC46659_adelaides_warbler.ogg", "XC32051_bananaquit.ogg",
                                  "XC308530_puerto_rican_owl.ogg"])
@pytest.mark.parametrize("snr_db", [6.0, 0.0])
def test_speech_mixed_into_birdsong_is_located(load_clip, bird, snr_db):
    background, _ = load_clip(bird, SR)
    mixed = mix_in(background, speech_excerpt(load_clip, 2.0), at_s=1.0, snr_db=snr_db)
    segments = detect_speech(mixed, SR).segments
    assert segments, "speech between 1 s and 3 s was missed"
    assert segments[0][0] == pytest.approx(1.0, abs=0.3)
    assert segments[-1][1] == pytest.approx(3.0, abs=0.3)
    assert all(0.7 <= s and e <= 3.3 for s, e in segments)


def test_segments_are_sorted_disjoint_and_inside_the_clip(load_clip):
    background, _ = load_clip(BIRD, SR)
    speech = speech_excerpt(load_clip, 1.2)
    mixed = mix_in(mix_in(background, speech, 0.2, 6.0), speech, 4.0, 6.0)
    report = detect_speech(mixed, SR)
    assert len(report.segments) == 2
    flat = [t for seg in report.segments for t in seg]
    assert flat == sorted(flat) and flat[0] >= 0 and flat[-1] <= report.duration_s
    covered = sum(e - s for s, e in report.segments)
    assert report.speech_fraction == pytest.approx(covered / report.duration_s)


def test_mute_segments_silences_the_span_and_keeps_the_rest(load_clip):
    x, sr = load_clip(BIRD, SR)
    original = x.copy()
    fade_s = 0.02
    out = mute_segments(x, sr, [(1.0, 2.5)], fade_s=fade_s)
    assert np.array_equal(x, original), "the input must not be modified"
    assert out.dtype == x.dtype and out.shape == x.shape
    start, end, fade = int(1.0 * sr), int(2.5 * sr), int(fade_s * sr)
    assert not np.any(out[start:end])
    assert np.array_equal(out[: start - fade], original[: start - fade])
    assert np.array_equal(out[end + fade:], original[end + fade:])
    # fades: never louder than the original, gain falls to ~0 at the span and rises after it
    ramp_out, ramp_in = slice(start - fade, start), slice(end, end + fade)
    assert np.all(np.abs(out[ramp_out]) <= np.abs(original[ramp_out]) + 1e-7)
    assert np.all(np.abs(out[ramp_in]) <= np.abs(original[ramp_in]) + 1e-7)
    step = np.abs(np.diff(out[start - fade - 1: end + fade + 1])).max()
    assert step <= np.abs(np.diff(original)).max() + 1e-6, "muting must not add clicks"


def test_mute_segments_handles_edges_overlaps_and_empty_lists(load_clip):
    x, sr = load_clip(BIRD, SR)
    assert np.array_equal(mute_segments(x, sr, []), x)
    out = mute_segments(x, sr, [(-1.0, 0.5), (0.4, 0.8), (5.9, 99.0), (3.0, 2.0)])
    assert not np.any(out[: int(0.8 * sr)])
    assert not np.any(out[int(5.9 * sr):])
    assert np.array_equal(out[int(1.0 * sr): int(5.5 * sr)], x[int(1.0 * sr): int(5.5 * sr)])


def test_detected_speech_can_be_muted(load_clip):
    x, sr = load_clip(SPEECH, SR)
    report = detect_speech(x, sr)
    muted = mute_segments(x, sr, report.segments)
    assert np.sqrt(np.mean(muted ** 2)) < 0.2 * np.sqrt(np.mean(x ** 2))
    assert detect_speech(muted, sr).segments == ()


@pytest.mark.parametrize("bad", [np.zeros(0, dtype=np.float32), np.array([0.0, np.nan] * 100, dtype=np.float32),
                                 np.zeros((2, 1000), dtype=np.float32)])
def test_invalid_input_raises(bad):
    with pytest.raises(ValueError):
        detect_speech(bad, SR)


def test_very_short_and_silent_input_have_no_speech():
    assert detect_speech(np.zeros(100, dtype=np.float32), SR).segments == ()
    assert detect_speech(np.zeros(3 * SR, dtype=np.float32), SR).speech_fraction == 0.0


def test_report_is_json_ready(load_clip):
    x, sr = load_clip(SPEECH)
    data = json.loads(json.dumps(detect_speech(x, sr).to_dict()))
    assert set(data) >= {"segments", "speech_fraction"}
    assert all(len(seg) == 2 and seg[0] < seg[1] for seg in data["segments"])
    assert SpeechReport(segments=(), speech_fraction=0.0).to_dict()["segments"] == []

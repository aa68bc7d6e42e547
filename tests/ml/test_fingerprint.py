"""Duplicate and replay detection on real fixture clips (ml.runtime.fingerprint)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from ml.runtime import audio
from ml.runtime.fingerprint import (FRAME_S, MAX_LANDMARKS_PER_S, MatchResult, is_duplicate, landmarks,
                                    lookup_hashes, match, pcm_digest)

BIRD = "XC173620_adelaides_warbler.ogg"  # 6 s, 48 kHz Ogg/Opus
SAME_SPECIES = "XC46659_adelaides_warbler.ogg"  # another Adelaide's Warbler, another recordist


def wav_roundtrip(x: np.ndarray, sr: int, subtype: str) -> np.ndarray:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype=subtype)
    return sf.read(io.BytesIO(buf.getvalue()), dtype="float32")[0]


def test_landmarks_shape_range_and_density(load_clip):
    x, sr = load_clip(BIRD)
    marks = landmarks(x, sr)
    assert marks.ndim == 2 and marks.shape[1] == 2 and marks.dtype == np.int64
    assert len(marks) > 50
    assert np.all((marks[:, 0] >= 0) & (marks[:, 0] < 2 ** 32))
    assert np.all(marks[:, 1] >= 0) and np.all(np.diff(marks[:, 1]) >= 0)
    assert len(marks) <= MAX_LANDMARKS_PER_S * x.size / sr
    assert np.array_equal(marks, landmarks(x, sr)), "fingerprints must be deterministic"


def test_clip_matches_itself(load_clip):
    x, sr = load_clip(BIRD)
    marks = landmarks(x, sr)
    result = match(marks, marks)
    assert result == MatchResult(matched=len(marks), score=1.0, offset_frames=0)
    assert is_duplicate(result)


def test_reencoded_resampled_quieter_noisier_copy_is_a_duplicate(load_clip):
    x, sr = load_clip(BIRD)  # 48 kHz float
    y = audio.resample(x, sr, 24_000) * 10 ** (-6 / 20)
    noise = np.random.default_rng(3).normal(0.0, 1.0, y.size)
    y = y + noise * np.sqrt(np.mean(y ** 2) / 10 ** (30 / 10))  # 30 dB SNR
    y = wav_roundtrip(y.astype(np.float32), 24_000, "PCM_16")
    result = match(landmarks(y, 24_000), landmarks(x, sr))
    assert is_duplicate(result), result
    assert abs(result.offset_frames) <= 1
    assert result.score > 0.4


def test_float_and_16_bit_wav_give_matching_fingerprints(load_clip):
    x, sr = load_clip(BIRD, 24_000)
    as_float = wav_roundtrip(x, sr, "FLOAT")
    as_int16 = wav_roundtrip(x, sr, "PCM_16")
    result = match(landmarks(as_int16, sr), landmarks(as_float, sr))
    assert is_duplicate(result) and result.score > 0.9


@pytest.mark.parametrize("variant", ["XC173620_adelaides_warbler_24k.wav", "XC173620_adelaides_warbler.flac",
                                     "XC173620_adelaides_warbler.mp3"])
def test_other_containers_of_the_same_audio_are_duplicates(load_clip, variant):
    x, sr = load_clip(BIRD)
    y, sr_y = load_clip(variant)
    result = match(landmarks(y, sr_y), landmarks(x, sr))
    assert is_duplicate(result), result
    assert abs(result.offset_frames) <= 2


@pytest.mark.parametrize("start_s", [1.5, 2.2371])  # the second start falls between frames
def test_two_second_excerpt_is_found_with_its_offset(load_clip, start_s):
    x, sr = load_clip(BIRD)
    start = int(start_s * sr)
    excerpt = x[start: start + 2 * sr]
    result = match(landmarks(excerpt, sr), landmarks(x, sr))
    assert is_duplicate(result), result
    assert result.offset_s == pytest.approx(start_s, abs=2 * FRAME_S)


@pytest.mark.parametrize("a, b", [(BIRD, SAME_SPECIES),
                                  ("XC370024_puerto_rican_vireo.ogg", "XC173376_puerto_rican_vireo.ogg")])
def test_other_recordings_of_the_same_species_are_not_duplicates(load_clip, a, b):
    xa, sra = load_clip(a)
    xb, srb = load_clip(b)
    la, lb = landmarks(xa, sra), landmarks(xb, srb)
    for result in (match(la, lb), match(lb, la)):
        assert not is_duplicate(result), result
        assert result.score < 0.1


def test_bird_is_not_a_duplicate_of_city_sounds(load_clip, audio_manifest):
    x, sr = load_clip(BIRD)
    bird = landmarks(x, sr)
    city = [r["file"] for r in audio_manifest if r["kind"] in ("urban", "background")]
    assert len(city) >= 3
    for name in city:
        y, sr_y = load_clip(name)
        assert not is_duplicate(match(landmarks(y, sr_y), bird)), name


def test_fixture_recordings_are_pairwise_distinct(load_clip, audio_manifest):
    names = [r["file"] for r in audio_manifest if r["file"].endswith(".ogg")]
    marks = {n: landmarks(*load_clip(n)) for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not is_duplicate(match(marks[a], marks[b])), (a, b)


def test_lookup_hashes_cover_what_match_uses(load_clip):
    x, sr = load_clip(BIRD)
    start = int(2.2371 * sr)
    query, full = landmarks(x[start: start + 2 * sr], sr), landmarks(x, sr)
    fetched = full[np.isin(full[:, 0], lookup_hashes(query))]  # what an inverted index would return
    from_index, from_full = match(query, fetched), match(query, full)
    assert (from_index.matched, from_index.offset_frames) == (from_full.matched, from_full.offset_frames)
    assert set(query[:, 0]) <= set(lookup_hashes(query))


def test_match_handles_empty_fingerprints(load_clip):
    x, sr = load_clip(BIRD)
    empty = np.zeros((0, 2), dtype=np.int64)
    assert match(empty, landmarks(x, sr)) == MatchResult(0, 0.0, 0)
    assert match(landmarks(x, sr), empty) == MatchResult(0, 0.0, 0)
    assert len(landmarks(np.zeros(24_000, dtype=np.float32), 24_000)) == 0
    assert not is_duplicate(MatchResult(0, 0.0, 0))


def test_is_duplicate_thresholds():
    assert is_duplicate(MatchResult(matched=40, score=0.5, offset_frames=3))
    assert not is_duplicate(MatchResult(matched=9, score=1.0, offset_frames=0))  # too few landmarks
    assert not is_duplicate(MatchResult(matched=30, score=0.05, offset_frames=0))  # chance hits in a long file
    assert is_duplicate(MatchResult(matched=5, score=0.5, offset_frames=0), min_matched=5)


@pytest.mark.parametrize("bad", [np.zeros(0, dtype=np.float32), np.array([0.0, np.inf] * 500, dtype=np.float32),
                                 np.zeros((2, 1000), dtype=np.float32)])
def test_landmarks_reject_invalid_input(bad):
    with pytest.raises(ValueError):
        landmarks(bad, 24_000)


def test_pcm_digest_ignores_the_container(load_clip):
    x, sr = load_clip(BIRD, 24_000)
    wav = audio.encode_wav(x, sr)
    from_wav, _ = audio.decode(wav)
    buf = io.BytesIO()
    sf.write(buf, sf.read(io.BytesIO(wav), dtype="int16")[0], sr, format="FLAC", subtype="PCM_16")
    from_flac, _ = audio.decode(buf.getvalue())
    assert pcm_digest(from_wav) == pcm_digest(from_flac) == pcm_digest(sf.read(io.BytesIO(wav), dtype="int16")[0])
    assert len(pcm_digest(from_wav)) == 64


def test_pcm_digest_changes_with_the_audio(load_clip):
    x, sr = load_clip(BIRD, 24_000)
    base = pcm_digest(x)
    nudged = x.copy()
    nudged[1000] += 2 / 32768
    assert pcm_digest(nudged) != base
    assert pcm_digest(x[:-1]) != base
    assert pcm_digest(x.astype(np.float64)) == base
    with pytest.raises(ValueError):
        pcm_digest(np.array([0.0, np.nan]))

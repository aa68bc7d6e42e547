"""Ogg/Opus straight through libopus: same audio as libsndfile, and libsndfile for anything unusual."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ml.runtime import opus
from ml.runtime.audio import AudioError, decode, resample

AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
PHONE_CLIPS = ["XC173620_adelaides_warbler.ogg", "XC32051_bananaquit.ogg", "US8K_130030-3-0-0_dog_bark.ogg"]

pytestmark = pytest.mark.skipif(not opus.available(), reason="libopus is not installed")


def reference(data: bytes, rate: int) -> np.ndarray:
    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return resample(x.mean(axis=1), sr, rate)


@pytest.mark.parametrize("name", PHONE_CLIPS)
def test_decodes_like_libsndfile_at_the_model_rate(name):
    data = (AUDIO / name).read_bytes()
    fast = opus.decode_ogg_opus(data, 24_000, max_seconds=300)
    assert fast is not None and fast.dtype == np.float32
    ref = reference(data, 24_000)
    assert fast.shape[0] == ref.size                      # pre-skip and end trimming as RFC 7845 says
    err = ref - fast.mean(axis=1)
    assert 10 * np.log10(np.sum(ref ** 2) / max(np.sum(err ** 2), 1e-20)) > 30.0
    mono, sr = decode(data, sample_rate=24_000)
    assert sr == 24_000 and np.array_equal(mono, fast.mean(axis=1, dtype=np.float32))


def test_output_gain_from_the_header_is_applied():
    data = bytearray((AUDIO / "XC32051_bananaquit.ogg").read_bytes())
    head = data.index(b"OpusHead")
    plain = opus.decode_ogg_opus(bytes(data), 48_000, 300)
    data[head + 16:head + 18] = (6 * 256).to_bytes(2, "little", signed=True)   # +6 dB, Q7.8
    louder = opus.decode_ogg_opus(bytes(data), 48_000, 300)
    assert np.allclose(louder, plain * 10 ** (6 / 20), atol=1e-5)


def test_unusual_streams_are_left_to_libsndfile():
    warbler = (AUDIO / "XC173620_adelaides_warbler.ogg").read_bytes()
    x, sr = sf.read(AUDIO / "XC173620_adelaides_warbler.flac", dtype="float32")
    vorbis = io.BytesIO()
    sf.write(vorbis, x[: sr * 2], sr, format="OGG", subtype="VORBIS")
    assert opus.decode_ogg_opus(vorbis.getvalue(), 24_000, 300) is None
    assert decode(vorbis.getvalue(), sample_rate=24_000)[0].size == 48_000       # libsndfile decodes it
    assert opus.decode_ogg_opus(warbler + warbler, 24_000, 300) is None          # chained streams
    assert opus.decode_ogg_opus(warbler, 22_050, 300) is None                    # not an Opus rate
    assert opus.decode_ogg_opus(warbler, 24_000, max_seconds=1) is None          # too long: libsndfile says so
    with pytest.raises(AudioError) as exc:
        decode(warbler, sample_rate=24_000, max_seconds=1)
    assert exc.value.code == "audio_too_long"


def test_hostile_bytes_never_crash_and_answer_like_libsndfile():
    data = (AUDIO / "XC173620_adelaides_warbler.ogg").read_bytes()
    rng = np.random.default_rng(3)
    cases = [data[: len(data) // 2], data[: len(data) // 2 + 13], data[:200]]
    for _ in range(20):
        b = bytearray(data)
        for i in rng.integers(300, len(b), 40):
            b[i] = int(rng.integers(0, 256))
        cases.append(bytes(b))
    for case in cases:
        try:
            mono, sr = decode(case, sample_rate=24_000)
        except AudioError as exc:
            assert exc.code in {"audio_corrupt", "audio_empty", "audio_too_long"}
        else:
            assert sr == 24_000 and np.all(np.isfinite(mono))

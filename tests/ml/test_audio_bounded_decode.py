"""Decoding costs memory in proportion to its result, never to what a small file declares.

The hostile input: a ~220 KB FLAC of silence declaring 299 s at 192 kHz in stereo (115 M samples,
460 MB as float32), made here block by block.
"""
from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from ml.runtime import audio
from ml.runtime.audio import AudioError, BlockResampler, decode, probe, resample

MODEL_RATE = 24_000


def silent_flac(seconds: float, rate: int, channels: int) -> bytes:
    """A FLAC of ``seconds`` of digital silence, written without holding it in memory."""
    buf = io.BytesIO()
    block = np.zeros((1 << 20, channels), dtype=np.int16)
    with sf.SoundFile(buf, "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16") as f:
        left = int(seconds * rate)
        while left:
            n = min(left, block.shape[0])
            f.write(block[:n])
            left -= n
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return silent_flac(299, 192_000, 2)


def peak_bytes(fn, *args, **kwargs):
    """(result, the largest traced allocation total while ``fn`` ran), numpy arrays included."""
    BlockResampler(48_000, MODEL_RATE)   # imports scipy.signal outside the measurement
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_the_bomb_is_small_and_refused_by_its_header(bomb):
    assert len(bomb) < 400_000
    with pytest.raises(AudioError) as err:
        probe(bomb)
    assert err.value.code == "audio_bad_sample_rate"
    refusal, peak = peak_bytes(pytest.raises, AudioError, decode, bomb, sample_rate=MODEL_RATE)
    assert refusal.value.code == "audio_bad_sample_rate"
    assert peak < 2 * 2**20          # refused before any sample is decoded


def test_decoding_the_bomb_peaks_at_the_size_of_its_result(bomb):
    """Even with the sample-rate limit lifted, the decode holds its result plus about one block
    (reading all of it at once, then mixing and resampling, held over 700 MB)."""
    (samples, sr), peak = peak_bytes(decode, bomb, sample_rate=MODEL_RATE, max_sample_rate=192_000)
    assert sr == MODEL_RATE and samples.shape == (299 * MODEL_RATE,) and samples.dtype == np.float32
    assert not np.any(samples)
    assert peak < samples.nbytes + 8 * 2**20, (peak / 2**20, samples.nbytes / 2**20)


def test_a_result_over_the_decoded_limit_is_refused_before_decoding():
    data = silent_flac(60, 96_000, 2)
    info = probe(data)
    assert audio.decoded_bytes(info) == 60 * 96_000 * 4
    assert audio.decoded_bytes(info, MODEL_RATE) == 60 * MODEL_RATE * 4
    with pytest.raises(AudioError) as err:
        decode(data, max_decoded_bytes=16 * 2**20)            # native rate: 22 MB
    assert err.value.code == "audio_too_large_decoded"
    samples, sr = decode(data, sample_rate=MODEL_RATE, max_decoded_bytes=16 * 2**20)   # 5.5 MB
    assert sr == MODEL_RATE and samples.size == 60 * MODEL_RATE


def test_96_khz_is_the_highest_accepted_rate():
    assert probe(silent_flac(1, 96_000, 1)).sample_rate == 96_000
    with pytest.raises(AudioError) as err:
        probe(silent_flac(1, 176_400, 1))
    assert err.value.code == "audio_bad_sample_rate"


@pytest.mark.parametrize("rate, channels, seconds", [(44_100, 2, 4.3), (48_000, 1, 1.0), (96_000, 2, 3.1),
                                                     (22_050, 1, 0.01), (24_000, 2, 2.0)])
def test_block_decoding_equals_decoding_the_whole_signal_at_once(rate, channels, seconds):
    """Block by block (mono mix, polyphase resampling with context) gives what reading the whole
    file, mixing and resampling it in one go gives."""
    rng = np.random.default_rng(rate + channels)
    x = np.clip(0.3 * rng.standard_normal((int(seconds * rate), channels)), -1, 1)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="FLAC", subtype="PCM_16")
    data = buf.getvalue()
    whole, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    expected = resample(whole.mean(axis=1, dtype=np.float32), rate, MODEL_RATE)
    samples, sr = decode(data, sample_rate=MODEL_RATE)
    assert sr == MODEL_RATE and samples.shape == expected.shape
    np.testing.assert_allclose(samples, expected, atol=1e-6)
    native, native_sr = decode(data)
    assert native_sr == rate
    np.testing.assert_array_equal(native, whole.mean(axis=1, dtype=np.float32))


@pytest.mark.parametrize("block", [1, 7, 320, 4096, 65536])
def test_the_block_resampler_is_exact_for_any_block_size(block):
    x = np.random.default_rng(block).standard_normal(50_003).astype(np.float32)
    resampler = BlockResampler(44_100, MODEL_RATE)
    parts = [resampler.feed(x[i:i + block]) for i in range(0, x.size, block)] + [resampler.finish()]
    np.testing.assert_allclose(np.concatenate(parts), resample(x, 44_100, MODEL_RATE), atol=1e-6)

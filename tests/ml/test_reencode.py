"""Tag-free re-encoding: the public clip's Ogg/Opus (libopus + our Ogg muxer) and the researchers'
FLAC copy, read back with libsndfile and mutagen."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC
from mutagen.oggopus import OggOpus

from ml.runtime import opus_encode, reencode
from ml.runtime.audio import AudioError, decode, encode_ogg_opus

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
WARBLER = FIXTURES / "XC173620_adelaides_warbler.ogg"


def envelope(x: np.ndarray, frame: int = 480) -> np.ndarray:
    n = x.size // frame * frame
    return np.sqrt(np.mean(x[:n].reshape(-1, frame) ** 2, axis=1))


def test_ogg_crc_matches_libogg_pages():
    data = encode_ogg_opus(np.sin(np.arange(24_000) / 7.0).astype(np.float32) * 0.3, 24_000)
    pos = 0
    while pos < len(data):
        n_seg = data[pos + 26]
        size = 27 + n_seg + sum(data[pos + 27:pos + 27 + n_seg])
        page = data[pos:pos + size]
        zeroed = page[:22] + b"\0\0\0\0" + page[26:]
        assert opus_encode.ogg_crc(zeroed) == struct.unpack_from("<I", page, 22)[0]
        pos += size


@pytest.mark.parametrize("rate", [16_000, 24_000, 48_000])
def test_opus_encoder_round_trips_length_and_sound_without_tags(rate):
    if not opus_encode._libopus():
        pytest.skip("no libopus")
    x, sr = decode(WARBLER.read_bytes(), sample_rate=rate)
    data = opus_encode.encode(x, sr)
    y, ysr = sf.read(io.BytesIO(data), dtype="float32")     # libogg checks every page's CRC
    assert ysr == sr and y.shape == x.shape
    assert np.corrcoef(envelope(y), envelope(x))[0, 1] > 0.98
    tags = OggOpus(io.BytesIO(data)).tags
    assert list(tags.keys()) == [] and tags.vendor.startswith("libopus")
    assert opus_encode.encode(np.zeros((10, 3), np.float32), 24_000) is None     # only mono or stereo
    assert opus_encode.encode(x, 44_100) is None                                  # not an Opus rate


def test_public_clip_is_the_span_only_and_bounded():
    x, sr = decode(WARBLER.read_bytes(), sample_rate=24_000)
    clip = reencode.public_clip(x, sr, 1.0, 4.0)
    y, _ = sf.read(io.BytesIO(clip), dtype="float32")
    assert y.shape[0] == 3 * sr
    assert np.corrcoef(envelope(y), envelope(x[sr:4 * sr]))[0, 1] > 0.95
    long = np.tile(x, 15)                                         # 90 s
    assert sf.info(io.BytesIO(reencode.public_clip(long, sr))).duration == pytest.approx(
        reencode.PUBLIC_CLIP_MAX_S, abs=0.01)
    assert reencode.public_clip(np.zeros(sr, np.float32), sr) is None              # silence: nothing to publish
    assert reencode.public_clip(x, sr, 5.99, 6.0) is None                          # shorter than MIN_CLIP_S
    assert reencode.clip_span(100, 10, 20.0, 30.0) == (99, 100)                     # beyond the end: clamped


def test_public_clip_at_a_rate_opus_lacks_is_resampled():
    x, sr = decode(WARBLER.read_bytes(), sample_rate=22_050)
    clip = reencode.public_clip(x, sr, 0.0, 2.0)
    assert sf.info(io.BytesIO(clip)).duration == pytest.approx(2.0, abs=0.01)


def test_tag_free_flac_drops_wav_info_chunks_and_keeps_channels():
    stereo = (np.random.default_rng(0).standard_normal((48_000, 2)) * 0.1).astype(np.float32)
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", 48_000, 2, format="WAV", subtype="PCM_24") as f:
        f.title = "GPS 18.299111,-65.801234"
        f.comment = "lat 18.299111 lng -65.801234"
        f.write(stereo)
    wav = buf.getvalue()
    assert b"18.299111" in wav
    data = reencode.tag_free_flac(wav).read()
    assert b"18.299111" not in data and b"GPS" not in data
    assert not FLAC(io.BytesIO(data)).tags
    y, sr = sf.read(io.BytesIO(data), dtype="float32")
    assert sr == 48_000 and y.shape == stereo.shape
    assert sf.info(io.BytesIO(data)).subtype == "PCM_24"
    assert np.max(np.abs(y - np.clip(stereo, -1, 1))) < 1e-5


def test_tag_free_flac_refuses_undecodable_bytes():
    with pytest.raises(AudioError) as err:
        reencode.tag_free_flac(b"OggS" + b"\0" * 100)
    assert err.value.code == "audio_corrupt"

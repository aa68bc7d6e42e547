"""The phone reads audio with the standard library (WAV) and asks the server for area cells: no
libsndfile, libopus or H3 in a phone build."""
from __future__ import annotations

import hashlib
import io
import struct
import sys
import wave

import numpy as np
import pytest

from mobile.api import ApiClient, ApiError
from mobile.game import GameClient
from mobile.pcm import PcmError, decode_audio, read_audio_file, read_wav
from mobile.services.audio_out import wav_bytes
from mobile.soundscape import SoundscapeController
from mobile.services.location import SimulatedWalk


def tone(n=4800, sr=48_000):
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)


def test_pcm16_round_trip_and_stereo():
    x = tone()
    y, sr = read_wav(wav_bytes(x, 48_000))
    assert sr == 48_000 and y.shape == (4800, 1) and np.max(np.abs(y[:, 0] - x)) < 1e-4
    st = np.stack([x, -x], axis=1)
    y, _ = read_wav(wav_bytes(st, 48_000))
    assert y.shape == (4800, 2) and np.allclose(y[:, 1], -x, atol=1e-4)


def raw_wav(tag: int, bits: int, payload: bytes, channels: int = 1, sr: int = 16_000) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, sr, sr * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", 3) + b"abc\x00" \
        + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_float_24_bit_and_odd_chunks_read():
    x = tone(1000, 16_000)
    y, sr = read_wav(raw_wav(3, 32, x.astype("<f4").tobytes()))
    assert sr == 16_000 and np.allclose(y[:, 0], x)
    v = (x * ((1 << 23) - 1)).astype(np.int32)
    packed = b"".join(int(s & 0xFFFFFF).to_bytes(3, "little") for s in v)
    y, _ = read_wav(raw_wav(1, 24, packed))
    assert np.max(np.abs(y[:, 0] - x)) < 1e-3


@pytest.mark.parametrize("data,code", [(b"OggS" + b"\0" * 40, "audio_unsupported_format"),
                                       (raw_wav(1, 16, b""), "audio_empty"),
                                       (raw_wav(7, 8, b"\0" * 10), "audio_unsupported_format"),
                                       (b"RIFF\0\0\0\0WAVE", "audio_corrupt")])
def test_bad_wavs_raise_a_stable_code(data, code):
    with pytest.raises(PcmError) as exc:
        read_wav(data)
    assert exc.value.code == code


def test_without_libsndfile_other_formats_are_refused_in_words(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "soundfile", None)   # as on a phone
    with pytest.raises(PcmError) as exc:
        decode_audio(b"OggS" + b"\0" * 100)
    assert exc.value.code == "audio_needs_wav" and "audio=wav" in exc.value.message
    path = tmp_path / "take.wav"
    path.write_bytes(wav_bytes(tone(), 48_000))
    x, sr = read_audio_file(path)
    assert x.shape == (4800,) and sr == 48_000


def test_soundscape_clips_come_as_wav_naming_their_source(tmp_path, fake_server):
    original = b"OggS-original-bytes"
    sha = hashlib.sha256(original).hexdigest()
    data = wav_bytes(tone(), 48_000)

    def clip(handler):
        assert "audio=wav" in handler.path
        return 200, data, {"Content-Type": "audio/wav", "X-Clip-SHA256": sha}
    fake_server.routes[("GET", "/c/")] = clip
    walk = SimulatedWalk()
    ctl = SoundscapeController(ApiClient(fake_server.url), walk, walk, tmp_path)
    x, sr = ctl.clip({"url": "/c/", "sha256": sha})
    assert sr == 48_000 and x.shape == (4800,)
    assert ctl.clip({"url": "/c/", "sha256": sha})[0] is x   # cached
    with pytest.raises(ValueError, match="checksum"):
        ctl.clip({"url": "/c/", "sha256": "0" * 64})   # a WAV naming another clip is refused


def test_the_local_board_cell_comes_from_the_server_and_is_cached(fake_server):
    fake_server.routes[("GET", "/api/v1/game/area/")] = lambda h: (200, {
        "cell": "874c9b2d8ffffff", "region": "844c9b3ffffffff", "boards": {}})
    game = GameClient(ApiClient(fake_server.url, token="t"))
    assert game.area_cell(18.2960, -65.7850) == "874c9b2d8ffffff"
    assert game.area_cell(18.2961, -65.7851) == "874c9b2d8ffffff"
    assert len([r for r in fake_server.requests if r[1] == "/api/v1/game/area/"]) == 1
    fake_server.routes[("GET", "/api/v1/game/area/")] = lambda h: (200, {"cell": None})
    with pytest.raises(ApiError):
        game.area_cell(10.0, 10.0)

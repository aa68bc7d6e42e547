"""The soundscape's gapless output: ring buffer, render-ahead thread, a real-time clocked device."""
from __future__ import annotations

import time

import numpy as np

from mobile.streaming import AudioRing, ClockedSink, StreamPlayer

SR, BLOCK = 48_000, 960  # 20 ms


def test_ring_wraps_around_pads_with_silence_and_counts_underruns():
    ring = AudioRing(5, channels=2)
    a = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert ring.write(a) == 4 and ring.free == 1
    assert np.array_equal(ring.read(3), a[:3])
    b = np.arange(100, 108, dtype=np.float32).reshape(4, 2)
    assert ring.write(b) == 4  # wraps around the end of the buffer
    assert ring.write(b) == 0  # full: nothing overwritten
    assert np.array_equal(ring.read(5), np.concatenate([a[3:], b]))
    assert ring.underruns == 0
    ring.write(np.ones(2, np.float32))  # mono input fills both channels
    out = ring.read(4)
    assert np.array_equal(out[:2], np.ones((2, 2))) and not out[2:].any()
    assert ring.underruns == 1 and ring.missing_frames == 2


def sine_renderer(freq: float = 441.0):
    state = {"n": 0}

    def render() -> np.ndarray:
        t = (state["n"] + np.arange(BLOCK)) / SR
        state["n"] += BLOCK
        x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        return np.stack([x, x], axis=1)

    return render


def test_stream_is_gapless_and_in_order_at_real_time_pace():
    player = StreamPlayer(sine_renderer(), SR, BLOCK, ahead_blocks=6)
    sink = ClockedSink()
    player.start(sink)
    time.sleep(1.0)
    player.stop()
    played = sink.played()[:, 0]
    assert len(played) >= 30 * BLOCK  # about 50 blocks pulled in one second
    expected = (0.5 * np.sin(2 * np.pi * 441.0 * np.arange(len(played)) / SR)).astype(np.float32)
    assert np.allclose(played, expected, atol=1e-5)  # no block dropped, repeated or padded
    assert player.stats.underruns == 0


def test_a_renderer_slower_than_real_time_shows_up_as_underruns():
    fast = sine_renderer()

    def slow() -> np.ndarray:
        time.sleep(0.035)  # 35 ms to render 20 ms
        return fast()

    player = StreamPlayer(slow, SR, BLOCK, ahead_blocks=4)
    sink = ClockedSink()
    player.start(sink)
    time.sleep(1.0)
    player.stop()
    assert player.stats.underruns > 5 and player.ring.missing_frames > 0


def test_soundscape_plays_through_the_ring_into_the_device(tmp_path):
    from mobile.api import ApiClient
    from mobile.services.audio_out import CapturingAudioOut
    from mobile.services.location import SimulatedWalk, offset
    from mobile.soundscape import SoundscapeController, source_from_file

    from .conftest import AUDIO

    walk = SimulatedWalk(radius_m=1)
    sc = SoundscapeController(ApiClient("http://127.0.0.1:9"), walk, walk, tmp_path)
    lat, lng = offset(walk.lat0, walk.lng0, 15, 10)
    sc.set_sources([source_from_file(AUDIO / "XC32051_bananaquit.ogg", "b1", lat, lng, "Bananaquit")])
    out = CapturingAudioOut()
    player = sc.play(out)
    time.sleep(0.6)
    assert sc.playing
    sc.stop()
    assert not sc.playing
    played = out.sink.played()
    assert played.shape[1] == 2 and len(played) >= 15 * sc.renderer.cfg.block_size
    assert np.all(np.isfinite(played)) and player.stats.underruns == 0

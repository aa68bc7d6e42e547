"""The renderer measured at its output: direction, distance, rate, modes, safety, streaming."""
from __future__ import annotations

import numpy as np
import pytest

from ml.runtime.spatial import HeadingReading, ListeningMode, Mode, RenderConfig, SpatialRenderer, VirtualSource
from ml.runtime.spatial.geometry import destination
from ml.runtime.spatial.mapping import playback_rate

LAT, LNG = 18.30, -65.80
SR = 48_000
NO_ADAPT = RenderConfig(adaptive=None)


def db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-30)


def scene(clip, azimuth: float, distance: float = 20.0, *, count: int = 1, species: str = "A",
          sid: str = "s", cfg: RenderConfig = NO_ADAPT, heading: float | None = 0.0,
          offset: float = 0.0, gap: float = 0.5) -> SpatialRenderer:
    x, sr = clip
    lat, lng = destination(LAT, LNG, azimuth, distance)
    r = SpatialRenderer(cfg)
    r.set_sources([VirtualSource(sid, lat, lng, species, x, sr, count=count, start_offset_s=offset, gap_s=gap)])
    r.set_listener(LAT, LNG, HeadingReading(compass_deg=heading) if heading is not None else None)
    return r


def settled(r: SpatialRenderer, seconds: float) -> np.ndarray:
    """Render, dropping the first blocks (fade-in and limiter latency)."""
    out = r.render(seconds + 0.1)
    return out[int(0.1 * SR):]


def onset(ch: np.ndarray, frac: float = 0.1) -> int:
    """First sample where the channel's low band (< 800 Hz, where both ears hear the same
    waveform up to a gain) exceeds ``frac`` of its own peak: a level-independent arrival time."""
    n = 2 * ch.size   # zero-padded: no circular wrap of the end onto the start
    spec = np.fft.rfft(ch.astype(np.float64), n=n)
    low = np.fft.irfft(spec * (np.fft.rfftfreq(n, 1 / SR) < 800), n=n)[: ch.size]
    return int(np.argmax(np.abs(low) > frac * np.max(np.abs(low))))


def xcorr_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 64) -> int:
    """Lag d maximising sum a[n] b[n-d]: positive when ``a`` lags ``b``."""
    lags = range(-max_lag, max_lag + 1)
    return max(lags, key=lambda d: float(np.dot(a[max_lag:-max_lag], np.roll(b, d)[max_lag:-max_lag])))


@pytest.mark.parametrize("side", [90.0, -90.0])
def test_lateral_source_is_louder_and_earlier_on_its_side(warbler, side):
    clip_s = warbler[0].size / warbler[1]
    # start 0.4 s before the clip so the first sound's onset is inside the render
    r = scene(warbler, side, offset=clip_s + 0.5 - 0.4, gap=0.5)
    out = r.render(3.0)
    near, far = (out[:, 1], out[:, 0]) if side > 0 else (out[:, 0], out[:, 1])
    assert db(near) - db(far) > 6.0
    assert onset(near[:SR]) + 20 < onset(far[:SR]) < onset(near[:SR]) + 40
    lag = xcorr_lag(far, near)
    assert 25 <= lag <= 34          # Woodworth ITD at 90°: 0.66 ms ≈ 31 samples at 48 kHz


def test_frontal_source_is_centred_and_rear_source_is_duller(warbler):
    front = settled(scene(warbler, 0.0), 3.0)
    assert abs(db(front[:, 0]) - db(front[:, 1])) < 0.5
    assert xcorr_lag(front[:, 0], front[:, 1]) == 0
    back = settled(scene(warbler, 180.0), 3.0)
    assert abs(db(back[:, 0]) - db(back[:, 1])) < 0.5
    # same distance, same clip: the pinna shadow takes high frequencies from the rear source
    hi = lambda y: np.abs(np.fft.rfft(y[:, 0]))[np.fft.rfftfreq(y.shape[0], 1 / SR) > 3000]  # noqa: E731
    assert 20 * np.log10(np.linalg.norm(hi(front)) / np.linalg.norm(hi(back))) > 3.0


def test_doubling_distance_lowers_level_by_six_db(warbler):
    near = settled(scene(warbler, 30.0, 20.0), 3.0)
    far = settled(scene(warbler, 30.0, 40.0), 3.0)
    drop = db(near) - db(far)
    assert 5.5 <= drop <= 6.5


def test_higher_count_plays_faster(warbler):
    assert playback_rate(1) < playback_rate(4) < playback_rate(32)
    assert playback_rate(10**9) == pytest.approx(1.5) and playback_rate(0) == pytest.approx(1.0)

    def centroid(y):
        spec = np.abs(np.fft.rfft(y[:, 0])) ** 2
        f = np.fft.rfftfreq(y.shape[0], 1 / SR)
        return float(np.sum(f * spec) / np.sum(spec))

    slow = settled(scene(warbler, 0.0, count=1, gap=0.0), 5.0)
    fast = settled(scene(warbler, 0.0, count=32, gap=0.0), 5.0)
    ratio = centroid(fast) / centroid(slow)
    assert ratio == pytest.approx(float(playback_rate(32)), rel=0.1)


def test_focused_mode_attenuates_source_behind_by_30_db(warbler):
    def level(az):
        r = scene(warbler, az)
        r.set_mode(ListeningMode(mode=Mode.FOCUSED, half_width_deg=30, edge_deg=20))
        return db(settled(r, 3.0))

    assert level(0.0) - level(180.0) >= 30.0
    assert level(0.0) - level(20.0) < 1.0     # inside the window: untouched


def test_constant_mode_isolates_one_species(warbler):
    x, sr = warbler
    r = SpatialRenderer(NO_ADAPT)
    a = VirtualSource("a", *destination(LAT, LNG, -60, 20), "Bananaquit", x, sr, start_offset_s=0)
    b = VirtualSource("b", *destination(LAT, LNG, 60, 20), "Puerto Rican Tody", x, sr, start_offset_s=0)
    r.set_sources([a, b])
    r.set_listener(LAT, LNG, 0.0)
    r.set_mode(ListeningMode(isolate_species="Bananaquit"))
    out = settled(r, 2.0)
    assert db(out[:, 0]) - db(out[:, 1]) > 6.0   # only the left source remains


def test_interactive_mode_needs_activation_and_brings_one_forward(warbler):
    from ml.runtime.spatial.modes import tilt_activates
    assert tilt_activates(40.0) and tilt_activates(-50.0)
    assert not tilt_activates(10.0) and not tilt_activates(float("nan")) and not tilt_activates(None)
    x, sr = warbler
    r = SpatialRenderer(NO_ADAPT)
    srcs = [VirtualSource(i, *destination(LAT, LNG, az, 20), "A", x, sr, start_offset_s=0)
            for i, az in (("left", -90), ("right", 90))]
    r.set_sources(srcs)
    r.set_listener(LAT, LNG, 0.0)
    r.set_mode(ListeningMode(mode=Mode.INTERACTIVE, active=False))
    assert np.max(np.abs(settled(r, 1.0))) == 0.0
    r.set_mode(ListeningMode(mode=Mode.INTERACTIVE, active=True, forward_source="right"))
    out = settled(r, 2.0)
    assert db(out[:, 1]) - db(out[:, 0]) > 10.0
    r.set_mode(ListeningMode(mode=Mode.INTERACTIVE, active=True, recording=True))
    r.render(0.2)
    assert np.max(np.abs(r.render(0.5))) == 0.0


def test_without_heading_direction_is_suspended_and_dimmed(warbler):
    with_heading = settled(scene(warbler, 90.0), 2.0)
    r = scene(warbler, 90.0, heading=None)
    out = settled(r, 2.0)
    _, status = r.render_block()
    assert status.heading_source == "none" and "no_heading" in status.reasons
    assert abs(db(out[:, 0]) - db(out[:, 1])) < 0.5
    assert db(with_heading) - db(out) > 6.0


def test_heading_falls_back_from_head_tracker_to_course_to_compass():
    from ml.runtime.spatial import resolve_heading
    assert resolve_heading(HeadingReading(head_tracker_deg=10, course_deg=20, speed_mps=1.5,
                                          compass_deg=30)) == (10, "head_tracker")
    assert resolve_heading(HeadingReading(head_tracker_deg=float("nan"), course_deg=20, speed_mps=1.5,
                                          compass_deg=30)) == (20, "course")
    assert resolve_heading(HeadingReading(course_deg=20, speed_mps=0.1, compass_deg=30)) == (30, "compass")
    assert resolve_heading(HeadingReading(compass_deg=float("inf"))) == (None, "none")


def test_nan_listener_position_fades_to_silence_and_says_why(warbler):
    r = scene(warbler, 45.0)
    assert np.max(np.abs(r.render(0.5))) > 0
    r.set_listener(float("nan"), LNG, 0.0)
    blocks, statuses = zip(*(r.render_block() for _ in range(10)))
    out = np.concatenate(blocks)
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(np.concatenate(blocks[3:]))) == 0.0
    assert all("listener_position_invalid" in s.reasons for s in statuses)
    # the fade is a ramp, not a jump: no sample step larger than the signal's own
    assert np.max(np.abs(np.diff(out, axis=0))) < 0.2


def test_nan_heading_source_and_samples_never_make_nan_audio(warbler):
    x, sr = warbler
    bad = x.copy()
    bad[1000:1010] = np.nan
    r = SpatialRenderer(RenderConfig())
    r.set_sources([VirtualSource("ok", *destination(LAT, LNG, 10, 20), "A", bad, sr, start_offset_s=0),
                   VirtualSource("lost", float("nan"), LNG, "A", x, sr)])
    r.set_listener(LAT, LNG, HeadingReading(head_tracker_deg=float("nan"), compass_deg=float("nan")))
    r.feed_ambient(np.full(4096, np.nan), 24_000)
    out, status = r.render_block()
    assert "source_position_invalid:lost" in status.reasons and "ambient_non_finite" in status.reasons
    assert status.heading_source == "none"
    rest = r.render(1.0)
    assert np.all(np.isfinite(rest)) and np.max(np.abs(rest)) > 0


def test_many_loud_sources_never_clip(warbler):
    x, sr = warbler
    r = SpatialRenderer(RenderConfig(adaptive=None, max_output_rms_dbfs=0.0))
    r.set_sources([VirtualSource(f"s{i}", *destination(LAT, LNG, i * 11.0, 2.0), "A", x * 4, sr, gain=4.0, gap_s=0.5,
                                 start_offset_s=0) for i in range(32)])
    r.set_listener(LAT, LNG, 0.0)
    out = r.render(4.0)
    assert np.all(np.isfinite(out)) and out.dtype == np.float32 and out.shape[1] == 2
    assert np.max(np.abs(out)) <= 0.8913


def test_streaming_blocks_turning_head_has_no_clicks():
    """A steady 1 kHz test tone while the head turns 2° per block: the output envelope stays smooth."""
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR * 2) / SR)).astype(np.float32)
    r = SpatialRenderer(NO_ADAPT)
    r.set_sources([VirtualSource("t", *destination(LAT, LNG, 0, 10), "tone", tone, SR, gap_s=0.0,
                                 start_offset_s=0)])
    blocks = []
    for k in range(120):
        r.set_listener(LAT, LNG, 2.0 * k)
        block, _ = r.render_block()
        assert block.shape == (1024, 2)
        blocks.append(block)
    y = np.concatenate(blocks)[4096:-4096, 0].astype(np.float64)
    env = np.abs(np.fft.ifft(np.fft.fft(y) * np.where(np.arange(y.size) < y.size // 2, 2, 0)))
    env = env[2000:-2000]
    assert np.max(np.abs(np.diff(env))) < 0.01 * np.max(env)

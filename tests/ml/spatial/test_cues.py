"""The renderer's cue table agrees with the exact cue maths; a moving listener re-measures geometry."""
from __future__ import annotations

import numpy as np

from ml.runtime.spatial import HeadingReading, RenderConfig, SpatialRenderer, VirtualSource
from ml.runtime.spatial.cues import ear_cues, ear_cues_table
from ml.runtime.spatial.geometry import destination

LAT, LNG = 18.30, -65.80


def test_cue_table_matches_exact_cues_within_a_fraction_of_a_decibel():
    az = np.random.default_rng(0).uniform(-180.0, 180.0, 20_000)
    for mode in ("binaural", "pan"):
        exact_g, exact_d = ear_cues(az, 48_000, mode)
        table_g, table_d = ear_cues_table(az, 48_000, mode)
        audible = exact_g > 0.1   # equal-power panning reaches 0 at ±90°: compare levels where audible
        assert np.max(np.abs(20 * np.log10(table_g[audible] / exact_g[audible]))) < 0.05
        assert np.max(np.abs(table_g - exact_g)) < 0.002
        assert np.max(np.abs(table_d - exact_d)) <= 1 and np.mean(table_d != exact_d) < 0.02


def test_cue_table_is_exact_on_the_cardinal_directions_and_frontal_without_heading():
    az = np.array([0.0, 90.0, -90.0, 180.0, np.nan, np.inf])
    exact_g, exact_d = ear_cues(np.array([0.0, 90.0, -90.0, 180.0, np.nan, np.nan]), 48_000)
    table_g, table_d = ear_cues_table(az, 48_000)
    np.testing.assert_allclose(table_g, exact_g)
    np.testing.assert_array_equal(table_d, exact_d)
    assert table_d[1, 0] > 0 and table_d[1, 1] == 0     # +90°: the left ear lags


def test_walking_away_from_a_source_lowers_its_level():
    """One renderer, the listener moving from 20 m to 40 m from a steady tone: about −6 dB."""
    sr = 48_000
    tone = (0.5 * np.sin(2 * np.pi * 500 * np.arange(sr) / sr)).astype(np.float32)
    r = SpatialRenderer(RenderConfig(adaptive=None))
    r.set_sources([VirtualSource("s", *destination(LAT, LNG, 0.0, 20.0), "A", tone, sr, gap_s=0.0)])
    r.set_listener(LAT, LNG, HeadingReading(compass_deg=0.0))
    near = r.render(1.0)[24_000:]
    r.set_listener(*destination(LAT, LNG, 180.0, 20.0), HeadingReading(compass_deg=0.0))   # now 40 m away
    far = r.render(1.0)[24_000:]
    level = lambda y: 10 * np.log10(np.mean(y.astype(np.float64) ** 2))   # noqa: E731
    assert 5.0 < level(near) - level(far) < 7.0

"""Grouping maths (pure numpy) and the render_walk demo command."""
from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
import soundfile as sf
from django.core.management import CommandError, call_command

from server.soundscapes.cells import SOURCE_GRID_DEG, cell_of, cell_of_square
from server.soundscapes.specbuild import NO_RECORDING, group_observations

from .conftest import LAT, LNG, add_obs


def test_grouping_counts_merges_and_caps_sources_per_cell():
    rng = np.random.default_rng(1)
    n = 5000
    species = rng.integers(1, 30, n)
    lat = LAT + rng.normal(0, 0.002, n)
    lng = LNG + rng.normal(0, 0.002, n)
    conf = np.full(n, -1.0)
    rec = np.array([NO_RECORDING] * n, dtype="V16")
    best = uuid.UUID(int=7).bytes
    rec[0], conf[0] = best, 0.9
    rec[1], conf[1] = uuid.UUID(int=3).bytes, 0.5
    species[1], lat[1], lng[1] = species[0], lat[0], lng[0]
    cells = group_observations(species, lat, lng, conf, rec, {i: f"sp{i}" for i in range(1, 30)},
                               SOURCE_GRID_DEG, cell_of_square, limit=10)
    assert sum(c.n_observations for c in cells.values()) == n
    for cell, entry in cells.items():
        assert len(entry.groups) <= 10
        counts = [g.count for g in entry.groups]
        assert counts == sorted(counts, reverse=True)
        assert all(cell_of_square(g.gy, g.gx) == cell for g in entry.groups)
    home = cells[cell_of_square(int(np.floor(lat[0] / SOURCE_GRID_DEG)), int(np.floor(lng[0] / SOURCE_GRID_DEG)))]
    # the group holding rows 0 and 1 names the higher-confidence recording, if it was kept
    named = [g for g in home.groups if g.recording_id is not None]
    assert all(g.recording_id == str(uuid.UUID(int=7)) and g.confidence == 0.9 for g in named)
    assert group_observations(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                              np.zeros(0, "V16"), {}, SOURCE_GRID_DEG, cell_of_square) == {}


@pytest.mark.django_db
def test_render_walk_writes_an_audible_binaural_wav(catalogue, tmp_path):
    for i, label in enumerate(["Bananaquit", "Puerto Rican Owl", "Adelaide's Warbler"]):
        add_obs(label, LAT + 0.0004 * (i - 1), LNG + 0.0003 * i, hours_ago=24 * 400)
    out = tmp_path / "walk.wav"
    stdout = io.StringIO()
    call_command("render_walk", out=out, path=f"{LAT},{LNG - 0.001};{LAT},{LNG + 0.001}", max_seconds=3.0,
                 stdout=stdout)
    audio, sr = sf.read(out, dtype="float32")
    assert sr == 48_000 and audio.shape[1] == 2 and audio.shape[0] >= 3 * sr
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) < 1.0
    assert np.sqrt(np.mean(audio[sr:] ** 2)) > 1e-3          # audible: real clips, not silence
    assert "3 sources (3 species)" in stdout.getvalue()
    assert cell_of(LAT, LNG)
    with pytest.raises(CommandError):
        call_command("render_walk", out=out, path="91,0;18,-66")

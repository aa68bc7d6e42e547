"""Clips (recording segments or fixture clips) and the artistic mix, measured as audio."""
from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.contrib.gis.geos import Point

from ml.runtime.spatial.artistic import MixConfig
from ml.runtime.spatial.loudness import integrated_loudness
from server.maps.public_clip_backfill import build_public_clip
from server.recordings import storage
from server.recordings.models import Recording, Status
from server.soundscapes.cells import cell_of
from server.soundscapes.mix import render_day_mixes
from server.soundscapes.models import CellMix, Clip

from .conftest import LAT, LNG, add_obs

pytestmark = pytest.mark.django_db
CELL = cell_of(LAT, LNG)
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "audio"
MIX_SPECIES = ["Adelaide's Warbler", "Bananaquit", "Greater Antillean Grackle", "Puerto Rican Owl",
               "Puerto Rican Nightjar", "Puerto Rican Vireo", "Puerto Rican Bullfinch"]


def make_recording(owner, clip_name: str, segment=(1.0, 3.0)) -> Recording:
    data = (FIXTURES / clip_name).read_bytes()
    sha, rel = storage.store_blob(data, "ogg")
    return Recording.objects.create(
        owner=owner, idempotency_key=uuid.uuid4().hex, audio_sha256=sha, audio_path=rel, audio_format="ogg",
        audio_bytes=len(data), sample_rate=48_000, channels=1, duration_s=6.0,
        recorded_at=datetime.now(timezone.utc) - timedelta(hours=1), location=Point(LNG, LAT, srid=4326),
        accuracy_m=5.0, segment_start_s=segment[0], segment_end_s=segment[1], status=Status.ACCEPTED)


def test_a_species_without_recordings_uses_its_fixture_clip(catalogue, api):
    add_obs("Bananaquit")
    (src,) = api.get(f"/api/v1/soundscapes/cells/{CELL}/").json()["sources"]
    clip = src["clip"]
    resp = api.get(clip["url"])
    assert resp.status_code == 200 and resp["Content-Type"] == "audio/ogg"
    body = b"".join(resp.streaming_content)
    assert body[:4] == b"OggS" and body != (FIXTURES / "XC32051_bananaquit.ogg").read_bytes()   # re-encoded
    assert sf.info(io.BytesIO(body)).duration == pytest.approx(6.0, abs=0.05)
    import hashlib
    assert hashlib.sha256(body).hexdigest() == clip["sha256"] and resp["ETag"] == f'"{clip["sha256"]}"'
    assert "immutable" in resp["Cache-Control"]
    assert api.get(clip["url"], HTTP_IF_NONE_MATCH=resp["ETag"]).status_code == 304
    assert Clip.objects.get(sha256=clip["sha256"]).attribution["recordist"] == "Daniel Lane"


def test_a_recording_in_the_cell_becomes_the_clip_cut_to_its_segment(catalogue, api, player):
    rec = make_recording(player, "XC173620_adelaides_warbler.ogg", segment=(1.0, 3.0))
    assert build_public_clip(add_obs("Adelaide's Warbler", recording=rec, confidence=0.9)) == "made"
    add_obs("Adelaide's Warbler", LAT + 0.0001, confidence=0.4)   # no recording: not chosen
    sources = api.get(f"/api/v1/soundscapes/cells/{CELL}/").json()["sources"]
    assert {s["clip"]["sha256"] for s in sources} == {Clip.objects.get(recording=rec).sha256}
    body = b"".join(api.get(sources[0]["clip"]["url"]).streaming_content)
    x, sr = sf.read(io.BytesIO(body), dtype="float32")
    assert x.shape[0] / sr == pytest.approx(2.0, abs=0.05)    # the public clip: the segment only
    assert np.sqrt(np.mean(x ** 2)) > 1e-3


def test_unknown_clip_is_404(api):
    assert api.get(f"/api/v1/soundscapes/clips/{'0' * 64}/").status_code == 404
    assert api.get("/api/v1/soundscapes/clips/../../etc/").status_code == 404


def test_busy_cell_gets_an_artistic_mix_at_minus_16_lufs(catalogue, api):
    when = datetime.now(timezone.utc) - timedelta(hours=1)
    today = when.date()  # the observations' day: between 00:00 and 01:00 UTC that is yesterday
    for i, label in enumerate(MIX_SPECIES):
        add_obs(label, LAT + 0.0006 * (i % 3), LNG + 0.0006 * (i // 3), when=when)
    add_obs("Bananaquit", 18.2, -66.5, when=when)                    # a quiet cell: no mix
    assert render_day_mixes(today, min_clips=6, cfg=MixConfig(total_s=20.0, max_clip_s=5.0)) == 1
    mix = CellMix.objects.get(cell=CELL, day=today)
    assert mix.n_clips == len(MIX_SPECIES) and mix.loudness_lufs == pytest.approx(-16.0, abs=0.3)
    resp = api.get(f"/api/v1/soundscapes/cells/{CELL}/mix/", {"date": today.isoformat()})
    assert resp.status_code == 200 and resp["Content-Type"] == "audio/ogg"
    audio, sr = sf.read(io.BytesIO(b"".join(resp.streaming_content)), dtype="float32")
    assert sr == 48_000 and audio.shape[1] == 2 and audio.shape[0] / sr >= 20.0
    assert integrated_loudness(audio, sr) == pytest.approx(-16.0, abs=1.5)
    assert np.max(np.abs(audio)) < 1.0
    # the same clips again: nothing re-rendered
    built = mix.built_at
    render_day_mixes(today, min_clips=6, cfg=MixConfig(total_s=20.0, max_clip_s=5.0))
    assert CellMix.objects.get(pk=mix.pk).built_at == built
    other = cell_of(18.2, -66.5)
    missing = api.get(f"/api/v1/soundscapes/cells/{other}/mix/", {"date": today.isoformat()})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "mix_not_found"

"""Observation detail (audio, cached spectrogram), species abundance and route."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from rest_framework.test import APIClient

from server.maps.public_clip_backfill import build_public_clip
from server.observations.models import Observation

from ..conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def xc_warbler(make_obs):
    """An imported xeno-canto observation whose clip ships in fixtures/audio (XC173620)."""
    obs = make_obs("Adelaide's Warbler", -66.86, 17.97, source="xeno-canto", source_id="173620",
                   source_url="https://xeno-canto.org/173620", status="research", sound_type="song",
                   recordist="Eric DeFonso", license="https://creativecommons.org/licenses/by-nc-sa/4.0/")
    assert build_public_clip(obs) == "made"
    return obs


def test_detail_has_everything_the_popup_needs(xc_warbler):
    body = APIClient().get(f"/api/v1/map/observations/{xc_warbler.pk}/").json()
    assert body["species"]["scientific_name"] == "Setophaga adelaidae"
    assert body["recordist"] == "Eric DeFonso" and body["license"].endswith("by-nc-sa/4.0/")
    assert body["grade"] == "research" and body["confidence"] == 0.8 and body["basis_of_record"] == "HumanObservation"
    assert body["identifications"] == [] and body["recording_url"] == "https://xeno-canto.org/173620"
    assert "/api/v1/clips/" in body["audio_url"]     # the public clip, not the file itself
    audio = APIClient().get(body["audio_url"])
    data = b"".join(audio.streaming_content)
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/ogg" and data[:4] == b"OggS"


def test_spectrogram_png_is_rendered_once_and_cached(xc_warbler, settings):
    url = f"/api/v1/map/observations/{xc_warbler.pk}/spectrogram.png"
    first = APIClient().get(url)
    png = b"".join(first.streaming_content)
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(png))
    assert image.size[1] == 160 and 300 <= image.size[0] <= 720
    pixels = image.convert("L").getextrema()
    assert pixels[1] - pixels[0] > 100  # a real picture, not a flat fill
    cached = list((settings.MEDIA_ROOT / "spectrograms").rglob("*.png"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    again = b"".join(APIClient().get(url).streaming_content)
    assert again == png and cached[0].stat().st_mtime_ns == mtime


def test_observation_without_audio_and_missing_ones(make_obs):
    obs = make_obs("Bananaquit")
    body = APIClient().get(f"/api/v1/map/observations/{obs.pk}/").json()
    assert body["audio_url"] is None and body["spectrogram_url"] is None
    missing = APIClient().get(f"/api/v1/map/observations/{obs.pk}/spectrogram.png")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "audio_unavailable"
    assert APIClient().get("/api/v1/map/observations/999999/").json()["error"]["code"] == "not_found"


def test_abundance_per_day_and_week(make_obs):
    start = datetime(2024, 5, 6, 6, tzinfo=timezone.utc)  # a Monday
    for day, n in ((0, 2), (1, 1), (8, 3)):
        for _ in range(n):
            make_obs("Bananaquit", when=start + timedelta(days=day))
    make_obs("Puerto Rican Tody", when=start)
    daily = APIClient().get("/api/v1/map/species/Bananaquit/abundance/?interval=day").json()
    assert daily["series"] == [{"period": "2024-05-06", "count": 2}, {"period": "2024-05-07", "count": 1},
                               {"period": "2024-05-14", "count": 3}]
    weekly = APIClient().get("/api/v1/map/species/Coereba flaveola/abundance/?interval=week").json()
    assert weekly["series"] == [{"period": "2024-05-06", "count": 3}, {"period": "2024-05-13", "count": 3}]
    filtered = APIClient().get("/api/v1/map/species/Bananaquit/abundance/?date_from=2024-05-10").json()
    assert filtered["total"] == 3
    bad = APIClient().get("/api/v1/map/species/Bananaquit/abundance/?interval=month")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
    assert APIClient().get("/api/v1/map/species/Dodo/abundance/").status_code == 404


def test_route_links_observations_in_time_order(make_obs):
    t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
    late = make_obs("Bananaquit", -65.5, 18.4, when=t0 + timedelta(days=20))
    early = make_obs("Bananaquit", -66.5, 18.1, when=t0)
    mid = make_obs("Bananaquit", -66.0, 18.2, when=t0 + timedelta(days=10))
    body = APIClient().get("/api/v1/map/species/Bananaquit/route/").json()
    line, *points = body["features"]
    assert line["geometry"]["type"] == "LineString"
    assert line["geometry"]["coordinates"] == [[-66.5, 18.1], [-66.0, 18.2], [-65.5, 18.4]]
    assert [p["properties"]["id"] for p in points] == [early.pk, mid.pk, late.pk]
    limited = APIClient().get("/api/v1/map/species/Bananaquit/route/?limit=1").json()
    assert len(limited["features"]) == 1  # one point, no line
    assert APIClient().get("/api/v1/map/species/Bananaquit/route/?limit=0").status_code == 400


def test_config_lists_species_and_role(make_obs, researcher):
    make_obs("Bananaquit")
    body = client_for(researcher).get("/api/v1/map/config/").json()
    assert body["user"]["researcher"] is True and body["tile_url"].endswith("/api/v1/map/tiles/{z}/{x}/{y}.mvt")
    assert [s["label"] for s in body["species"]] == ["Bananaquit"]
    assert Observation.objects.count() == 1

"""Soundscape specs through the API: windows, sharing, geoprivacy, staleness, bad input."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server.observations.models import Observation
from server.recordings.events import dispatch
from server.soundscapes.cells import cell_of, cells_within
from server.soundscapes.models import CellSpec
from server.soundscapes.schedule import BEAT_SCHEDULE
from server.soundscapes.tasks import rebuild_live
from tests.server.conftest import client_for
from tests.server.game.helpers import analysed_event

from .conftest import LAT, LNG, add_obs

pytestmark = pytest.mark.django_db
CELL = cell_of(LAT, LNG)


def species_counts(spec: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in spec["sources"]:
        out[s["species"]] = out.get(s["species"], 0) + s["count"]
    return out


def test_live_window_holds_only_the_last_24_hours(catalogue, spec_of):
    add_obs("Bananaquit", hours_ago=2)
    add_obs("Bananaquit", LAT + 0.0001, hours_ago=3)
    add_obs("Puerto Rican Tody", hours_ago=30)             # yesterday and more: not live
    spec = spec_of(CELL).json()
    assert spec["window"] == "live" and species_counts(spec) == {"Bananaquit": 2}
    src = spec["sources"][0]
    assert src["count"] == 2 and src["lat"] == pytest.approx(LAT + 0.00005, abs=1e-6)
    assert 1.0 < src["rate"] <= 1.5 and 0.5 < src["gain"] <= 1.0


def test_day_recall_returns_that_days_observations(catalogue, spec_of):
    old = add_obs("Puerto Rican Tody", hours_ago=30)
    add_obs("Bananaquit", hours_ago=1, when=old.observed_at + timedelta(days=5))   # not that day
    day = old.observed_at.date().isoformat()
    spec = spec_of(CELL, date=day).json()
    assert spec["window"] == day and species_counts(spec) == {"Puerto Rican Tody": 1}


def test_two_players_in_the_same_cell_get_the_same_spec(catalogue, player, other_player):
    for label in ("Bananaquit", "Adelaide's Warbler", "Adelaide's Warbler"):
        add_obs(label)
    a = client_for(player).get("/api/v1/soundscapes/", {"lat": LAT, "lng": LNG, "radius": 100})
    b = client_for(other_player).get("/api/v1/soundscapes/", {"lat": LAT + 0.001, "lng": LNG - 0.001,
                                                              "radius": 100})
    assert a.status_code == b.status_code == 200
    cell_a = next(c for c in a.json()["cells"] if c["cell"] == CELL)
    cell_b = next(c for c in b.json()["cells"] if c["cell"] == CELL)
    assert cell_a == cell_b and cell_a["etag"]
    assert species_counts(cell_a) == {"Bananaquit": 1, "Adelaide's Warbler": 2}
    # the same etag is a 304 for anyone; a clip reference points at a real file
    again = client_for(other_player).get(f"/api/v1/soundscapes/cells/{CELL}/",
                                         HTTP_IF_NONE_MATCH=f'"{cell_a["etag"]}"')
    assert again.status_code == 304
    whole = client_for(player).get("/api/v1/soundscapes/", {"lat": LAT, "lng": LNG, "radius": 100},
                                   HTTP_IF_NONE_MATCH=a["ETag"])
    assert whole.status_code == 304


def test_sensitive_species_are_placed_at_their_obscured_position(catalogue, api):
    obs = add_obs("Puerto Rican Amazon", seed="test:amazon-1")
    assert obs.obscured
    true_cell, public_cell = cell_of(LAT, LNG), cell_of(obs.public_location.y, obs.public_location.x)
    assert true_cell != public_cell
    at_truth = api.get(f"/api/v1/soundscapes/cells/{true_cell}/").json()
    assert "Puerto Rican Amazon" not in species_counts(at_truth)
    public = api.get(f"/api/v1/soundscapes/cells/{public_cell}/").json()
    (src,) = public["sources"]
    assert src["species"] == "Puerto Rican Amazon"
    assert (src["lat"], src["lng"]) == (pytest.approx(obs.public_location.y, abs=1e-6),
                                        pytest.approx(obs.public_location.x, abs=1e-6))
    assert abs(src["lat"] - LAT) + abs(src["lng"] - LNG) > 0.002


def test_casual_observations_are_left_out(catalogue, spec_of):
    add_obs("Bananaquit", status="casual")
    assert spec_of(CELL).json()["sources"] == []


def test_an_accepted_observation_makes_its_cell_stale_and_the_next_fetch_fresh(catalogue, spec_of):
    add_obs("Bananaquit")
    first = spec_of(CELL).json()
    obs = add_obs("Puerto Rican Vireo")
    dispatch(analysed_event(obs))
    assert CellSpec.objects.get(window="live", cell=CELL).stale
    day = obs.observed_at.date().isoformat()
    assert CellSpec.objects.get(window=day, cell=CELL).stale
    second = spec_of(CELL).json()
    assert second["etag"] != first["etag"]
    assert species_counts(second) == {"Bananaquit": 1, "Puerto Rican Vireo": 1}
    assert not CellSpec.objects.get(window="live", cell=CELL).stale


def test_beat_task_rebuilds_the_live_window(catalogue):
    assert BEAT_SCHEDULE["soundscapes-rebuild-live"]["task"] == "soundscapes.rebuild_live"
    obs = add_obs("Bananaquit")
    far = add_obs("Bananaquit", 18.2, -66.5)
    assert rebuild_live() == {"cells": 2, "observations": 2}
    Observation.objects.filter(pk=far.pk).update(observed_at=datetime.now(timezone.utc) - timedelta(days=2))
    assert rebuild_live() == {"cells": 1, "observations": 1}
    assert list(CellSpec.objects.filter(window="live").values_list("cell", flat=True)) == [
        cell_of(obs.location.y, obs.location.x)]


def test_cells_within_cover_the_radius():
    cells = cells_within(LAT, LNG, 1000)
    assert CELL in cells and 7 <= len(cells) <= 40
    assert len(cells_within(LAT, LNG, 50)) < len(cells)


@pytest.mark.parametrize("params, code", [
    ({"lat": 91, "lng": LNG}, "invalid_coordinates"),
    ({"lat": "nan", "lng": LNG}, "invalid_coordinates"),
    ({"lat": LAT, "lng": -181}, "invalid_coordinates"),
    ({"lat": "north", "lng": LNG}, "invalid_coordinates"),
    ({"lng": LNG}, "invalid_coordinates"),
    ({"lat": LAT, "lng": LNG, "radius": 5000}, "radius_too_large"),
    ({"lat": LAT, "lng": LNG, "radius": -5}, "invalid_radius"),
    ({"lat": LAT, "lng": LNG, "radius": "inf"}, "invalid_radius"),
    ({"lat": LAT, "lng": LNG, "date": "2030-13-45"}, "invalid_date"),
    ({"lat": LAT, "lng": LNG, "date": "2999-01-01"}, "date_in_future"),
    ({"lat": LAT, "lng": LNG, "date": "1901-01-01"}, "date_before_data"),
])
def test_bad_input_gets_a_clear_400(catalogue, api, params, code):
    add_obs("Bananaquit")
    resp = api.get("/api/v1/soundscapes/", params)
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]


@pytest.mark.parametrize("cell", ["zzz", "8f2830828052d25", "882830829bfffff0", "0"])
def test_unknown_cells_are_400(api, cell):
    resp = api.get(f"/api/v1/soundscapes/cells/{cell}/")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_cell"


def test_anonymous_requests_are_refused(db):
    resp = client_for(None).get("/api/v1/soundscapes/", {"lat": LAT, "lng": LNG})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "not_authenticated"


def test_schema_documents_the_soundscape_api(api):
    schema = api.get("/api/schema/?format=json").json()
    assert "/api/v1/soundscapes/" in schema["paths"]
    assert "/api/v1/soundscapes/cells/{cell}/mix/" in schema["paths"]

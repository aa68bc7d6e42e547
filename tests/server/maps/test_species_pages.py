"""The species page's data: weekly frequency over the year with zero weeks and years, the gridded abundance
layer over public positions, the Time travel scenario's waypoints, the obscured cells, and the map config's
basemap settings and first view."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rest_framework.test import APIClient

from server.game.scenarios.timetravel import MAX_WAYPOINTS, route_observations
from server.observations.geoprivacy import cell_bounds

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 7, 0, tzinfo=timezone.utc)


def test_frequency_lists_every_week_and_year_with_shares(make_obs):
    make_obs("Bananaquit", when=at(2020, 1, 8))            # ISO week 2
    make_obs("Bananaquit", when=at(2023, 1, 10))           # ISO week 2 again, another year
    make_obs("Puerto Rican Tody", when=at(2021, 1, 9))     # week 1 of 2021: the Tody only
    make_obs("Puerto Rican Tody", when=at(2023, 1, 11))    # week 2: the Bananaquit's share is 2/3
    body = APIClient().get("/api/v1/map/species/Bananaquit/frequency/").json()
    weeks = {w["week"]: w for w in body["weeks"]}
    assert [w["week"] for w in body["weeks"]] == list(range(1, 54))
    assert weeks[2] == {"week": 2, "count": 2, "all": 3, "share": pytest.approx(0.6667)}
    assert weeks[1] == {"week": 1, "count": 0, "all": 1, "share": 0.0}
    assert weeks[30] == {"week": 30, "count": 0, "all": 0, "share": 0.0}
    assert body["total"] == 2
    assert body["years"] == [{"year": 2020, "count": 1, "all": 1}, {"year": 2021, "count": 0, "all": 1},
                             {"year": 2022, "count": 0, "all": 0}, {"year": 2023, "count": 1, "all": 2}]


def test_frequency_honours_filters_and_refuses_bad_ones(make_obs):
    make_obs("Bananaquit", when=at(2020, 1, 8), status="research")
    make_obs("Bananaquit", when=at(2020, 1, 9), status="casual")
    body = APIClient().get("/api/v1/map/species/Bananaquit/frequency/", {"grade": "research"}).json()
    assert body["total"] == 1
    bad = APIClient().get("/api/v1/map/species/Bananaquit/frequency/", {"date_from": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
    assert APIClient().get("/api/v1/map/species/Nothing/frequency/").status_code == 404


def test_grid_counts_public_positions_per_cell(make_obs):
    make_obs("Bananaquit", -66.05, 18.41)
    make_obs("Bananaquit", -66.06, 18.42)
    make_obs("Bananaquit", -65.30, 18.10)
    hidden = make_obs("Bananaquit", -66.71, 18.21, obscured=True)
    body = APIClient().get("/api/v1/map/species/Bananaquit/grid/").json()
    cells = {tuple(f["geometry"]["coordinates"][0][0]): f["properties"]["count"] for f in body["features"]}
    west, south, _, _ = cell_bounds(18.41, -66.05)
    assert cells[(west, south)] == 2 and body["max"] == 2 and sum(cells.values()) == 4
    shown = hidden.public_location
    hw, hs, _, _ = cell_bounds(shown.y, shown.x)
    assert cells[(hw, hs)] == 1
    assert "-66.71" not in str(body)


def test_timetravel_is_the_scenarios_waypoints_at_public_positions(make_obs, catalogue):
    from server.species.models import Species

    made = [make_obs("Bananaquit", -66.0 - i / 100, 18.3, when=at(2020 + i, 3, 1)) for i in range(MAX_WAYPOINTS + 2)]
    hidden = make_obs("Bananaquit", -66.91, 18.33, when=at(2019, 1, 1), obscured=True)
    body = APIClient().get("/api/v1/map/species/Bananaquit/timetravel/").json()
    points = [f for f in body["features"] if f["geometry"]["type"] == "Point"]
    expected = route_observations(Species.objects.get(label="Bananaquit"))
    assert [p["properties"]["observation"] for p in points] == [o.pk for o in expected]
    assert [p["properties"]["step"] for p in points] == list(range(1, MAX_WAYPOINTS + 1))
    first = points[0]
    assert first["properties"]["observation"] == hidden.pk and first["properties"]["recordist"] == ""
    assert first["geometry"]["coordinates"] == [round(hidden.public_location.x, 6), round(hidden.public_location.y, 6)]
    assert body["features"][0]["geometry"]["type"] == "LineString"
    assert made[-1].pk not in [p["properties"]["observation"] for p in points]


def test_obscured_cells_group_obscured_observations_by_cell(make_obs):
    a = make_obs("Bananaquit", -66.71, 18.21, obscured=True)
    b = make_obs("Bananaquit", -66.72, 18.22, obscured=True)
    make_obs("Bananaquit", -66.05, 18.41)  # not obscured: no cell
    body = APIClient().get("/api/v1/map/obscured-cells/").json()
    assert body["truncated"] is False
    ids = sorted(i for f in body["features"] for i in f["properties"]["ids"])
    assert ids == sorted([a.pk, b.pk])
    for f in body["features"]:
        p = f["properties"]
        assert [p["west"], p["south"], p["east"], p["north"]] in (
            list(cell_bounds(o.public_location.y, o.public_location.x)) for o in (a, b))
    assert "-66.71" not in str(body) and "-66.72" not in str(body)
    other = APIClient().get("/api/v1/map/obscured-cells/", {"species": "Puerto Rican Tody"}).json()
    assert other["features"] == []


def test_map_config_names_the_basemap_and_the_data_extent(make_obs, settings):
    make_obs("Bananaquit", -67.2, 18.0)
    make_obs("Puerto Rican Tody", -65.3, 18.5)
    body = APIClient().get("/api/v1/map/config/").json()
    assert body["style_url"] == "" and body["basemap_url"] == ""
    west, south, east, north = body["extent"]
    assert west <= -67.0 and east >= -65.5 and south <= 18.1 and north >= 18.4
    assert {s["label"]: s["count"] for s in body["species"]} == {"Bananaquit": 1, "Puerto Rican Tody": 1}
    assert not any(s["sensitive"] for s in body["species"])
    settings.MAP_STYLE_URL = "https://tiles.example.org/style.json"
    assert APIClient().get("/api/v1/map/config/").json()["style_url"] == "https://tiles.example.org/style.json"

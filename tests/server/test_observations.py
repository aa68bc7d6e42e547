"""Demo import of real xeno-canto observations and the GeoJSON observation queries."""
from __future__ import annotations

import csv
import math

import pytest

from server.observations.demo_import import DemoImportError, FIXTURE_OBSERVATIONS, import_observations, parse_when
from server.observations.geoprivacy import CELL_DEGREES, cell_origin, obscure
from server.observations.models import Observation

from .conftest import client_for

pytestmark = pytest.mark.django_db
PR_BBOX = "-67.5,17.8,-65.2,18.6"


@pytest.fixture
def demo(catalogue):
    import_observations(FIXTURE_OBSERVATIONS)


def all_features(client, query: str) -> list[dict]:
    features, url = [], f"/api/v1/observations/?{query}&page_size=200"
    while url:
        body = client.get(url).json()
        features += body["features"]
        url = body["next"]
    return features


def test_demo_import_keeps_all_rows_and_attribution(demo):
    rows = list(csv.DictReader(open(FIXTURE_OBSERVATIONS, encoding="utf-8")))
    assert len(rows) == 470 and Observation.objects.count() == 470
    row = rows[0]
    obs = Observation.objects.get(source_id=row["xc_id"])
    assert obs.recordist == row["recordist"] and obs.license == row["license"]
    assert obs.source_url.endswith(row["xc_id"])
    assert import_observations(FIXTURE_OBSERVATIONS) == (0, 470)  # idempotent


def test_local_times_become_utc():
    parsed = parse_when("2014-03-10", "07:44")
    assert parsed.observed_at.isoformat() == "2014-03-10T11:44:00+00:00" and parsed.precision == "minute"
    assert parse_when("2009-05-00", "?").precision == "month"
    with pytest.raises(DemoImportError):
        parse_when("10/03/2014", "07:44")


def test_broken_csv_imports_nothing(catalogue, tmp_path):
    bad = tmp_path / "obs.csv"
    lines = FIXTURE_OBSERVATIONS.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join(lines[:5] + [lines[5].replace("-", "/", 2)]) + "\n", encoding="utf-8")
    with pytest.raises(DemoImportError):
        import_observations(bad)
    assert Observation.objects.count() == 0


def test_bbox_query_returns_all_demo_observations(demo):
    features = all_features(client_for(None), f"bbox={PR_BBOX}")
    assert len(features) == 470
    f = features[0]
    assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
    lng, lat = f["geometry"]["coordinates"]
    assert -67.5 <= lng <= -65.2 and 17.8 <= lat <= 18.6
    assert {"species", "confidence", "status", "recordist", "license"} <= set(f["properties"])


def test_bbox_excludes_outside_points(demo):
    east = all_features(client_for(None), "bbox=-66.0,17.8,-65.2,18.6")
    assert 0 < len(east) < 470
    assert all(f["geometry"]["coordinates"][0] >= -66.0 for f in east)


def test_filters_species_dates_grade(demo):
    client = client_for(None)
    one = all_features(client, "species=Puerto Rican Tody")
    assert one and all(f["properties"]["species"] == "Puerto Rican Tody" for f in one)
    ranged = all_features(client, "date_from=2015-01-01&date_to=2016-12-31")
    assert ranged and all("2015" <= f["properties"]["observed_at"][:4] <= "2016" for f in ranged)
    # xeno-canto's soundscapes are casual, its unidentified sounds need an identification (kingdom rank)
    assert {f["properties"]["species"] for f in all_features(client, "grade=casual")} == {"Soundscape"}
    assert {f["properties"]["species"] for f in all_features(client, "grade=needs_id")} == {"Identity unknown"}
    assert len(all_features(client, "grade=research")) == 470 - 2 - 7


def test_pagination(demo):
    body = client_for(None).get("/api/v1/observations/?page_size=50").json()
    assert body["type"] == "FeatureCollection" and body["count"] == 470
    assert len(body["features"]) == 50 and body["next"]


@pytest.mark.parametrize("query,code", [
    ("bbox=1,2,3", "invalid_bbox"), ("bbox=a,b,c,d", "invalid_bbox"), ("bbox=10,10,5,20", "invalid_bbox"),
    ("bbox=-200,0,0,10", "invalid_bbox"), ("date_from=tomorrow", "invalid_filter"),
    ("grade=legendary", "invalid_filter"), ("status=legendary", "invalid_filter"),
    ("species=" + ",".join(["x"] * 60), "invalid_filter"),
])
def test_invalid_filters(query, code, demo):
    response = client_for(None).get(f"/api/v1/observations/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_sensitive_species_are_obscured_for_the_public(demo, player, researcher):
    sensitive = Observation.objects.filter(species__sensitive=True)
    assert sensitive.exists() and all(o.obscured for o in sensitive)
    public = {f["id"]: f for f in all_features(client_for(player), f"bbox={PR_BBOX}")}
    private = {f["id"]: f for f in all_features(client_for(researcher), f"bbox={PR_BBOX}")}
    for obs in sensitive:
        true_point = [obs.location.x, obs.location.y]
        assert private[obs.pk]["geometry"]["coordinates"] == pytest.approx(true_point)
        shown = public[obs.pk]["geometry"]["coordinates"]
        assert shown != pytest.approx(true_point)
        assert public[obs.pk]["properties"]["obscured"] is True
        assert public[obs.pk]["properties"]["coordinate_uncertainty_m"] > 10_000
        assert cell_origin(shown[1], shown[0]) == pytest.approx(cell_origin(obs.location.y, obs.location.x))
        detail = client_for(player).get(f"/api/v1/observations/{obs.pk}/").json()
        assert detail["geometry"]["coordinates"] == pytest.approx(shown)


def test_obscure_is_stable_and_stays_in_cell():
    lat, lng = 18.3001, -65.7777
    a, b = obscure(lat, lng, "seed-1"), obscure(lat, lng, "seed-1")
    assert a == b and obscure(lat, lng, "seed-2") != a
    lat0, lng0 = cell_origin(lat, lng)
    assert lat0 <= a[0] < lat0 + CELL_DEGREES and lng0 <= a[1] < lng0 + CELL_DEGREES
    assert math.dist(a, (lat, lng)) > 1e-6

"""countryCode from the bundled Natural Earth admin-0 boundaries (server/maps/countries.py)."""
from __future__ import annotations

import pytest

from server.maps.countries import (Boundaries, boundaries_from_topology, bundled, country_at, country_code,
                                   distance_m, inside)

# two unit squares side by side (A west of B) sharing arc 1, which B runs backwards
TOPOLOGY = {
    "type": "Topology", "transform": {"scale": [1, 1], "translate": [0, 0]},
    "arcs": [[[1, 0], [-1, 0], [0, 1], [1, 0]],          # A: (1,0)->(0,0)->(0,1)->(1,1)
             [[1, 1], [0, -1]],                            # shared edge (1,1)->(1,0)
             [[1, 1], [1, 0], [0, -1], [-1, 0]]],          # B: (1,1)->(2,1)->(2,0)->(1,0)
    "objects": {"countries": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "arcs": [[0, 1]], "id": "AA"},
        {"type": "MultiPolygon", "arcs": [[[2, -2]]], "id": "BB"}]}},
}


@pytest.fixture(scope="module")
def squares() -> Boundaries:
    return boundaries_from_topology(TOPOLOGY)


def test_topology_decodes_shared_and_reversed_arcs(squares):
    assert squares.codes == ("AA", "BB")
    assert squares.boxes.tolist() == [[0, 0, 1, 1], [1, 0, 2, 1]]
    ring_b = squares.rings[1][0]
    assert ring_b[0].tolist() == ring_b[-1].tolist() == [1, 1]   # closed, through the reversed shared arc
    assert len(ring_b) == 5


def test_inside_and_nearest(squares):
    assert inside(squares.rings[0], 0.5, 0.5) and not inside(squares.rings[0], 1.5, 0.5)
    assert country_at(squares, 0.5, 0.5) == "AA" and country_at(squares, 1.5, 0.5) == "BB"
    # 0.1 deg north of B: about 11 km, inside 12 nautical miles; 1 deg away is not
    assert country_at(squares, 1.5, 1.1) == "BB"
    assert country_at(squares, 1.5, 2.0) == ""
    assert country_at(squares, 1.5, 2.0, tolerance_m=120_000) == "BB"
    assert distance_m(squares.rings[1], 1.5, 1.1) == pytest.approx(11_119.5, rel=1e-3)


@pytest.mark.parametrize("place, lng, lat, code", [
    ("San Juan", -66.1057, 18.4655, "PR"), ("Vieques", -65.44, 18.12, "PR"), ("Mona", -67.89, 18.08, "PR"),
    ("Charlotte Amalie", -64.93, 18.34, "VI"), ("Road Town", -64.62, 18.43, "VG"),
    ("Santo Domingo", -69.93, 18.48, "DO"), ("Port-au-Prince", -72.33, 18.54, "HT"),
    ("off San Juan, 12 km at sea", -66.1, 18.58, "PR"), ("Puerto Rico Trench", -66.0, 19.7, ""),
    ("Maseru (an enclave)", 27.48, -29.31, "LS"), ("Johannesburg", 28.05, -26.2, "ZA"), ("Pristina", 21.16, 42.66, "XK"),
])
def test_bundled_boundaries(place, lng, lat, code):
    assert country_code(lng, lat) == code, place


def test_uncertainty_widens_the_search_for_generalised_points():
    # 30 km north of Puerto Rico's coast: beyond territorial waters, inside a generalised record's 35 km
    assert country_code(-66.5, 18.75) == ""
    assert country_code(-66.5, 18.75, 35_000.0) == "PR"
    assert len(bundled().codes) > 200

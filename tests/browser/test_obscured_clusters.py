"""Obscured observations on the map in a real browser: a record obscured beside a sensitive one (a common species,
so no species rule could hide it) shares a cluster cell with an ordinary record at a coarse zoom; zoomed in until
that cell splits, no circle is drawn at the obscured record's public point — only the ordinary record's — and the
obscured record's 0.2° cell is drawn. Screenshot: tests/artifacts/webmap-obscured-mixed-cluster.png."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.contrib.gis.geos import Point

from server.maps.tilemath import cell_level, lnglat_to_cell
from server.observations.models import Observation
from server.observations.services import build_observation, public_point
from server.species.models import Species

from .conftest import import_demo_map, shot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420, func_only=True), pytest.mark.django_db]
COARSE, FINE = 11, 15   # the two records share a cluster cell at COARSE; at FINE each has its own
TRUE_POINT = (-66.47, 18.36)   # inland, away from the demo localities (checked below)
NEAR_PX = 12                   # a circle closer than this to the public point would mark it


def scene() -> tuple[Observation, Observation]:
    """The obscured record (its true point TRUE_POINT) and an ordinary record beside its public point, committed."""
    when = datetime(2025, 4, 2, 6, 15, tzinfo=timezone.utc)
    common = dict(status="research", confidence=0.9, observed_at=when, recordist="Linked Recordist",
                  license="https://creativecommons.org/licenses/by/4.0/")
    hidden = build_observation(species=Species.objects.get(label="Bananaquit"), seed="mixed:hidden",
                               location=Point(*TRUE_POINT, srid=4326), **common)
    hidden.public_location, hidden.obscured = public_point(hidden.location, True, "mixed:linked")[0], True
    hidden.save()
    shown = hidden.public_location
    level = cell_level(COARSE)
    # a neighbour ~200 m away, in the same coarse cluster cell as the public point
    spot = next((shown.x + dx, shown.y + dy) for dx in (0.002, -0.002, 0) for dy in (0.0015, -0.0015, 0)
                if lnglat_to_cell(shown.x + dx, shown.y + dy, level) == lnglat_to_cell(shown.x, shown.y, level))
    neighbour = build_observation(species=Species.objects.get(label="Pearly-eyed Thrasher"), seed="mixed:open",
                                  location=Point(*spot, srid=4326), **{**common, "recordist": "Open Recordist"})
    neighbour.save()
    neighbour.refresh_from_db()
    assert not neighbour.obscured and lnglat_to_cell(*spot, cell_level(FINE)) != lnglat_to_cell(shown.x, shown.y,
                                                                                                cell_level(FINE))
    crowd = Observation.objects.filter(public_location__dwithin=(shown, 0.03)).exclude(pk__in=[hidden.pk, neighbour.pk])
    assert not crowd.exists(), "the scene must stand apart from the demo data"
    return hidden, neighbour


@pytest.fixture(scope="module")
def live(services, django_db_blocker):
    with django_db_blocker.unblock():
        import_demo_map()
        hidden, neighbour = scene()
    return services.web(), hidden, neighbour


def open_at(page, base: str, lng: float, lat: float, zoom: int) -> None:
    page.goto(base + "/map/")
    page.wait_for_function("() => document.body.dataset.mapReady === '1'")
    page.evaluate(f"window.dawnMap.map.jumpTo({{center: [{lng}, {lat}], zoom: {zoom}}})")
    page.wait_for_function("() => window.dawnMap.map.loaded() && window.dawnMap.map.areTilesLoaded()")


def clusters_near(page, lng: float, lat: float) -> list[dict]:
    """Rendered cluster circles within NEAR_PX of a point, with their count and distance in px."""
    return page.evaluate(f"""(() => {{
        const map = window.dawnMap.map, p = map.project([{lng}, {lat}]);
        return map.queryRenderedFeatures({{layers: ['clusters']}}).map((f) => {{
            const q = map.project(f.geometry.coordinates);
            return {{count: f.properties.count, species: f.properties.species, px: Math.hypot(q.x - p.x, q.y - p.y)}};
        }}).filter((c) => c.px < {NEAR_PX});
    }})()""")


def test_a_split_cluster_draws_no_dot_at_the_obscured_public_point(live, page):
    base, hidden, neighbour = live
    shown, spot = hidden.public_location, neighbour.location
    # coarse: the shared cell's cluster counts the ordinary record only
    open_at(page, base, shown.x, shown.y, COARSE)
    page.wait_for_function("() => window.dawnMap.map.queryRenderedFeatures({layers: ['clusters']}).length > 0")
    cluster = page.evaluate(f"""(() => {{ const map = window.dawnMap.map, p = map.project([{shown.x}, {shown.y}]);
        return map.queryRenderedFeatures({{layers: ['clusters']}}).filter((f) => {{
            const q = map.project(f.geometry.coordinates); return Math.hypot(q.x - p.x, q.y - p.y) < 40; }})
            .map((f) => f.properties.count); }})()""")
    assert cluster == [1], cluster
    # fine: the cell has split; a circle for the ordinary record, none at the obscured record's public point
    page.evaluate(f"window.dawnMap.map.jumpTo({{center: [{shown.x}, {shown.y}], zoom: {FINE}}})")
    page.wait_for_function("() => window.dawnMap.map.loaded() && window.dawnMap.map.areTilesLoaded()")
    page.wait_for_function(f"""() => window.dawnMap.map.queryRenderedFeatures({{layers: ['obscured-cells']}})
        .some((f) => JSON.parse(f.properties.ids).includes({hidden.pk}))""")
    assert [c["species"] for c in clusters_near(page, spot.x, spot.y)] == ["Pearly-eyed Thrasher"]
    assert clusters_near(page, shown.x, shown.y) == []
    assert clusters_near(page, hidden.location.x, hidden.location.y) == []
    shot(page, "obscured-mixed-cluster")
    # points (zoom 16): the ordinary record is a point, the obscured one is not
    page.evaluate(f"window.dawnMap.map.jumpTo({{center: [{shown.x}, {shown.y}], zoom: 16.5}})")
    page.wait_for_function("() => window.dawnMap.map.loaded() && window.dawnMap.map.areTilesLoaded()")
    page.wait_for_function(f"""() => window.dawnMap.map.queryRenderedFeatures({{layers: ['points']}})
        .some((f) => f.properties.id === {neighbour.pk})""")
    ids = page.evaluate("window.dawnMap.map.queryRenderedFeatures({layers: ['points']}).map((f) => f.properties.id)")
    assert hidden.pk not in ids
    assert page.errors == []

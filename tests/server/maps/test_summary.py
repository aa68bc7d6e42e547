"""The pre-aggregated cluster cells: same clusters as the raw query, kept exact by triggers, public only."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import pytest
from django.core.management import call_command
from django.db import connection

from server.maps import summary
from server.maps.filters import parse_map_filters
from server.maps.tilemath import Tile, cell_level, lnglat_to_cell, lnglat_to_tile
from server.maps.tiles import raw_cluster_tile_sql, summary_cluster_tile_sql
from server.observations.models import Observation
from server.species.models import Species

from .mvt import decode, tile_to_lnglat

pytestmark = pytest.mark.django_db


def run(sql_args) -> dict:
    sql, args = sql_args
    with connection.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return decode(bytes(row[0])) if row and row[0] else {}


def clusters(tile: Tile, query: str, path: str) -> list[tuple]:
    f = parse_map_filters(dict(parse_qsl(query)))
    layers = run((summary_cluster_tile_sql if path == "summary" else raw_cluster_tile_sql)(tile, f))
    out = []
    for feat in layers.get("clusters", []):
        p = feat["properties"]
        lng, lat = tile_to_lnglat(tile.z, tile.x, tile.y, *feat["points"][0])
        out.append((p["count"], p["species"], p["species_count"], json.loads(p["mix"]), round(lng, 3), round(lat, 3)))
    return sorted(out, key=lambda c: (-c[0], c[4], c[5]))


def table(name: str = summary.TABLE) -> dict:
    key = "level, cx, cy, species_id" + (", day, status, sound_type" if name == summary.TABLE else "")
    with connection.cursor() as cur:
        cur.execute(f"SELECT {key}, n, sx, sy FROM {name}")
        return {r[:-3]: r[-3:] for r in cur.fetchall()}


@pytest.fixture
def varied(make_obs):
    """Observations over two islands, three days, grades, types; one obscured (sensitive or owner's wish)."""
    def at(day: int, hour: int) -> datetime:
        return datetime(2024, 5, day, hour, 0, tzinfo=timezone.utc)
    spots = [(-65.78, 18.30), (-65.77, 18.31), (-66.60, 18.20), (-64.90, 18.34)]
    made = []
    for i in range(16):
        lng, lat = spots[i % 4]
        made.append(make_obs(["Bananaquit", "Puerto Rican Tody", "Bananaquit"][i % 3], lng + i * 0.0007, lat,
                             when=at(1 + i % 3, (5 * i) % 24), confidence=0.2 + 0.03 * i,
                             status=["needs_id", "research", "casual"][i % 3],
                             sound_type=["song", "Call", "song"][i % 3]))
    made.append(make_obs("Bananaquit", -65.95, 18.05, obscured=True, when=at(2, 0)))
    return made


QUERIES = [
    "", "species=Bananaquit", "species=Puerto%20Rican%20Tody,Bananaquit", "date_from=2024-05-02",
    "date_to=2024-05-02", "date_from=2024-05-02&date_to=2024-05-03", "grade=research,casual", "type=call",
    "species=Bananaquit&grade=needs_id&type=song&date_from=2024-05-01&date_to=2024-05-01",
]


def test_summary_and_raw_paths_give_the_same_clusters(varied):
    for query in QUERIES:  # one fixture for all filter combinations (keeps the suite fast)
        f = parse_map_filters(dict(parse_qsl(query)))
        assert summary.summary_supports(f)
        table_used = (summary.CELL_TABLE if query == "" else summary.SPECIES_TABLE if query in QUERIES[1:3]
                      else summary.TABLE + " ")
        assert table_used in summary_cluster_tile_sql(Tile(0, 0, 0), f)[0]
        seen = 0
        for z in (0, 3, 7, 10, 13, 15):
            tile = lnglat_to_tile(-65.78, 18.30, z)
            fast, slow = clusters(tile, query, "summary"), clusters(tile, query, "raw")
            assert fast == slow, (z, query)
            seen += sum(c[0] for c in fast)
        assert seen > 0, query


@pytest.mark.parametrize("query,supported", [
    ("", True), ("species=Bananaquit&grade=research&type=song", True),
    ("date_from=2024-05-02&date_to=2024-05-03", True),
    ("date_from=2024-05-02T00:00:00Z", True), ("date_from=2024-05-02T06:00:00Z", False),
    ("date_to=2024-05-02T12:00:00Z", False), ("time_from=05:00", False), ("time_to=07:00", False),
    ("min_confidence=0.5", False), ("source=app", False), ("species=Bananaquit&min_confidence=0.1", False),
])
def test_which_filters_the_summary_answers(catalogue, query, supported):
    assert summary.summary_supports(parse_map_filters(dict(parse_qsl(query)))) is supported


def test_triggers_keep_the_summary_equal_to_a_rebuild(varied):
    first, second, third = varied[0], varied[1], varied[2]
    first.status = "research"
    first.save(update_fields=["status"])
    second.sound_type = "Alarm call"
    second.observed_at = datetime(2023, 1, 1, tzinfo=timezone.utc)
    second.save()
    third.delete()
    Observation.objects.filter(species__label="Puerto Rican Tody").update(status="casual")  # bulk SQL
    with connection.cursor() as cur:  # a raw statement moving many points at once
        cur.execute("UPDATE observations_observation SET public_location = ST_Translate(public_location, 0.3, 0), "
                    "location = ST_Translate(location, 0.3, 0) WHERE confidence > 0.5")
    Observation.objects.filter(pk=varied[4].pk).update(confidence=0.99)  # no summarised field: no change
    names = (summary.TABLE, summary.SPECIES_TABLE)
    maintained = {name: table(name) for name in names}
    for name in names:
        rows = maintained[name]
        assert rows and all(v[0] > 0 for v in rows.values())
        assert sum(v[0] for k, v in rows.items() if k[0] == summary.MIN_LEVEL) == Observation.objects.count()
    summary.rebuild()
    for name in names:
        rebuilt = table(name)
        assert rebuilt.keys() == maintained[name].keys()
        for key, (n, sx, sy) in rebuilt.items():
            assert maintained[name][key][0] == n, key
            assert maintained[name][key][1:] == pytest.approx((sx, sy), abs=1e-3), key


def finished_cells() -> dict:
    with connection.cursor() as cur:
        cur.execute(f"SELECT level, tx, ty, cx, cy, n, species_count, species, mix, sx, sy FROM {summary.CELL_TABLE}")
        return {r[:5]: r[5:] for r in cur.fetchall()}


def assert_cells_match_rebuild() -> None:
    maintained = finished_cells()
    with connection.cursor() as cur:
        cur.execute(summary.fill_cells_sql())
    rebuilt = finished_cells()
    assert rebuilt.keys() == maintained.keys()
    for key, value in rebuilt.items():
        assert key[1:3] == (key[3] >> 5, key[4] >> 5)
        assert maintained[key][:4] == value[:4], key
        assert maintained[key][4:] == pytest.approx(value[4:], abs=1e-3), key


def test_triggers_keep_the_finished_clusters_exact(varied, make_obs):
    assert_cells_match_rebuild()
    varied[5].delete()
    varied[6].species = Species.objects.get(label="Puerto Rican Tody")  # was a Bananaquit
    varied[6].save()
    for _ in range(4):  # a new leader in one cell
        make_obs("Puerto Rican Tody", -64.90, 18.34)
    assert_cells_match_rebuild()
    top = [v for k, v in finished_cells().items() if k[0] == summary.MAX_LEVEL and v[2] == "Puerto Rican Tody"]
    assert top and json.loads(top[0][3])[0][0] == "Puerto Rican Tody"


def test_deleting_everything_empties_the_summary(varied):
    Observation.objects.all().delete()
    assert table() == {} and table(summary.SPECIES_TABLE) == {} and finished_cells() == {}


def test_cells_hold_public_positions_only(make_obs):
    true_lng, true_lat = -65.95, 18.05
    obs = make_obs("Bananaquit", true_lng, true_lat, obscured=True)
    obs.refresh_from_db()
    assert obs.obscured and obs.public_location.distance(obs.location) > 0.001
    level = cell_level(15)
    cells = {(k[1], k[2]) for k in table() if k[0] == level}
    assert cells == {lnglat_to_cell(obs.public_location.x, obs.public_location.y, level)}
    assert lnglat_to_cell(true_lng, true_lat, level) not in cells


def test_rebuild_command(varied, capsys):
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {summary.TABLE}; DELETE FROM {summary.SPECIES_TABLE}; DELETE FROM {summary.CELL_TABLE}")
    call_command("rebuild_map_summary")
    assert "map summary rebuilt" in capsys.readouterr().out
    for name in (summary.TABLE, summary.SPECIES_TABLE):
        assert sum(v[0] for k, v in table(name).items() if k[0] == summary.MIN_LEVEL) == len(varied)
    assert sum(v[0] for k, v in finished_cells().items() if k[0] == summary.MIN_LEVEL) == len(varied)

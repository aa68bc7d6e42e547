"""The pre-aggregated cluster cells: same clusters as the raw query, whether or not the journal was
refreshed yet; a refreshed summary equals a rebuild; public positions only."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from server.maps import refresh, summary
from server.maps.filters import parse_map_filters
from server.maps.tilemath import Tile, cell_level, lnglat_to_cell, lnglat_to_tile
from server.maps.tiles import raw_cluster_tile_sql, summary_cluster_tile_sql
from server.observations.models import Observation
from server.species.models import Species

from .conftest import index_scans, tile_layers
from .mvt import decode, tile_to_lnglat
from .summary_rows import assert_equals_rebuild, assert_same_rows, finished_cells, pending, snapshot, table

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


QUERIES = [
    "", "species=Bananaquit", "species=Puerto%20Rican%20Tody,Bananaquit", "date_from=2024-05-02",
    "date_to=2024-05-02", "date_from=2024-05-02&date_to=2024-05-03", "grade=research,casual", "type=call",
    "species=Puerto%20Rican%20Tody&grade=needs_id,research&type=call",
    "species=Bananaquit&grade=needs_id&type=song&date_from=2024-05-01&date_to=2024-05-01",
]


def change_some(varied, make_obs) -> None:
    """Deletes, a species change that empties a (cell, species) row, a grade change, new observations."""
    varied[0].delete()
    varied[1].species = Species.objects.get(label="Bananaquit")  # was the only Tody in its finest cell
    varied[1].save()
    varied[2].status = "research"
    varied[2].save(update_fields=["status"])
    make_obs("Puerto Rican Tody", -65.78, 18.30)
    make_obs("Bananaquit", -64.90, 18.34, sound_type="call")


@pytest.mark.parametrize("journal", ["pending", "refreshed", "mixed"])
def test_summary_and_raw_paths_give_the_same_clusters(varied, make_obs, journal):
    """Exact whether every row still waits in the journal, all were folded in, or some of each."""
    if journal != "pending":
        refresh.drain()
    if journal == "mixed":
        change_some(varied, make_obs)
    assert bool(pending()) is (journal != "refreshed")
    for query in QUERIES:  # one fixture for all filter combinations (keeps the suite fast)
        f = parse_map_filters(dict(parse_qsl(query)))
        assert summary.summary_supports(f)
        table_used = (summary.CELL_TABLE if query == "" else summary.SPECIES_TABLE if query in QUERIES[1:3]
                      else summary.TABLE + " " if "date" in query else summary.KIND_TABLE)
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


def test_refresh_keeps_the_summary_equal_to_a_rebuild(varied):
    first, second, third = varied[0], varied[1], varied[2]
    first.status = "research"
    first.save(update_fields=["status"])
    second.sound_type = "Alarm call"
    second.observed_at = datetime(2023, 1, 1, tzinfo=timezone.utc)
    second.save()
    third.delete()
    # obscuring moves a record out of the clusters, and back in when it is lifted
    Observation.objects.filter(pk=varied[5].pk).update(obscured=True)
    Observation.objects.filter(obscured=True, pk=varied[-1].pk).update(obscured=False)
    Observation.objects.filter(species__label="Puerto Rican Tody").update(status="casual")  # bulk SQL
    with connection.cursor() as cur:  # a raw statement moving many points at once
        cur.execute("UPDATE observations_observation SET public_location = ST_Translate(public_location, 0.3, 0), "
                    "location = ST_Translate(location, 0.3, 0) WHERE confidence > 0.5")
    journal = len(pending())
    Observation.objects.filter(pk=varied[4].pk).update(confidence=0.99)  # no summarised field: no journal row
    assert len(pending()) == journal
    assert refresh.drain() == (journal, False) and pending() == []
    for name in (summary.TABLE, summary.SPECIES_TABLE):
        assert (sum(v[0] for k, v in table(name).items() if k[0] == summary.MIN_LEVEL)
                == Observation.objects.filter(obscured=False).count())
    assert_equals_rebuild()


def test_refresh_keeps_the_finished_clusters_exact(varied, make_obs):
    refresh.drain()
    assert_equals_rebuild()
    varied[5].delete()
    varied[6].species = Species.objects.get(label="Puerto Rican Tody")  # was a Bananaquit
    varied[6].save()
    for _ in range(4):  # a new leader in one cell
        make_obs("Puerto Rican Tody", -64.90, 18.34)
    refresh.refresh_batch(limit=3)  # in two batches
    assert len(pending()) == 4  # of 7: one delete, a species change (−1, +1), four inserts
    refresh.drain()
    assert_equals_rebuild()
    top = [v for k, v in finished_cells().items() if k[0] == summary.MAX_LEVEL and v[2] == "Puerto Rican Tody"]
    assert top and json.loads(top[0][3])[0][0] == "Puerto Rican Tody"


def test_deleting_everything_empties_the_summary(varied):
    refresh.drain()
    Observation.objects.all().delete()
    assert tile_layers(APIClient(), 0, 0, 0) == {}  # before the refresh: the journal's −1s cancel the tables
    refresh.drain()
    assert all(rows == {} for rows in snapshot().values()) and pending() == []


def test_truncating_observations_empties_every_summary_table(varied, make_obs):
    refresh.drain()
    make_obs("Bananaquit", -65.78, 18.30)  # one row still in the journal
    assert all(snapshot().values()) and pending()
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE observations_observation CASCADE")
    assert all(rows == {} for rows in snapshot().values()) and pending() == []


def test_obscured_observations_are_in_no_cluster(make_obs):
    """An obscured record (here a common species, obscured as a sensitive record's neighbour) is neither journalled
    nor summed: no cluster sits at its public point, nor at its true one; its un-obscured neighbour is clustered."""
    true_lng, true_lat = -65.95, 18.05
    obs = make_obs("Bananaquit", true_lng, true_lat, obscured=True)
    obs.refresh_from_db()
    assert obs.obscured and obs.public_location.distance(obs.location) > 0.001
    assert pending() == []
    shown = make_obs("Bananaquit", -65.90, 18.10)
    refresh.drain()
    level = cell_level(15)
    cells = {(k[1], k[2]) for k in table() if k[0] == level}
    assert cells == {lnglat_to_cell(shown.location.x, shown.location.y, level)}
    for lng, lat in ((obs.public_location.x, obs.public_location.y), (true_lng, true_lat)):
        t = lnglat_to_tile(lng, lat, 15)
        assert not tile_layers(APIClient(), t.z, t.x, t.y).get("clusters"), (lng, lat)
    # the raw path (a filter the summary cannot answer) leaves it out too
    t = lnglat_to_tile(obs.public_location.x, obs.public_location.y, 15)
    assert not tile_layers(APIClient(), t.z, t.x, t.y, "min_confidence=0.1").get("clusters")


def test_rebuild_command_counts_and_empties_the_journal(varied, capsys):
    refresh.refresh_batch(limit=5)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {summary.TABLE}; DELETE FROM {summary.SPECIES_TABLE}; DELETE FROM {summary.KIND_TABLE}; "
                    f"DELETE FROM {summary.CELL_TABLE}")
    assert pending()
    call_command("rebuild_map_summary")
    assert "map summary rebuilt" in capsys.readouterr().out
    assert pending() == []  # already counted: refreshing them again would count them twice
    for name in (summary.TABLE, summary.SPECIES_TABLE, summary.KIND_TABLE):
        assert sum(v[0] for k, v in table(name).items() if k[0] == summary.MIN_LEVEL) == len(varied) - 1  # 1 obscured
    assert sum(v[0] for k, v in finished_cells().items() if k[0] == summary.MIN_LEVEL) == len(varied) - 1
    rebuilt = snapshot()
    assert refresh.drain() == (0, False)
    assert_same_rows(snapshot(), rebuilt)


def fill_summary(level: int, rows: int) -> None:
    """``rows`` made-up rows of ``maps_tilecell`` at ``level``: 20 × 10 tiles' cells, 1,500 days (raw SQL)."""
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {summary.TABLE} ({summary.KEY}, n, sx, sy) "
                    "SELECT %s, 10000 + g %% 640, 14000 + (g / 640) %% 320, 1 + g %% 7, "
                    "date '2020-01-01' + g %% 1500, 'research', 'song', 1, 0, 0 FROM generate_series(1, %s) g",
                    [level, rows])
        cur.execute(f"ANALYZE {summary.TABLE}")


def test_a_dated_cluster_tile_reads_only_its_tile_and_dates():
    """The (tile, day) index bounds both. The primary key bounded only the tile's column of cells (``cx``), so a
    month read every day ever observed in that strip of the world (a zoom-12 tile at 1,000,000 observations:
    7.5 ms, now 0.9–1.7 ms)."""
    tile = Tile(10, 10000 // 32 + 3, 14000 // 32 + 2)
    fill_summary(cell_level(tile.z), 50_000)
    f = parse_map_filters({"date_from": "2021-04-01", "date_to": "2021-04-30", "grade": "research"})
    sql, args = summary_cluster_tile_sql(tile, f)
    scans = [s for s in index_scans(sql, args)
             if s[0] in (summary.TILE_DAY_INDEX, f"{summary.TABLE}_pkey")]
    assert [name for name, _ in scans] == [summary.TILE_DAY_INDEX]
    assert "cx >> 5" in scans[0][1] and "cy >> 5" in scans[0][1] and "day >=" in scans[0][1]

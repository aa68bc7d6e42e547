"""Vector tiles from PostGIS: ``ST_AsMVT`` over grid-snapped clusters or individual points.

Below :data:`~server.maps.tilemath.POINT_ZOOM` a tile holds one layer ``clusters``: the
observations' *public* positions snapped to a 32 × 32 grid aligned with the tile (read from the
pre-aggregated :mod:`~server.maps.summary` tables plus the tile's not yet refreshed
:mod:`~server.maps.journal` rows when the filters allow, else from observations); obscured observations are
in no cluster (the map draws them as their cell, never where a circle would look exact). Each feature
carrying ``count``, ``species`` (the most frequent), ``species_count`` and ``mix`` (JSON list of
``[label, count]``, top five). From ``POINT_ZOOM`` on, the layer ``points`` holds one feature per
observation (id, species, status, confidence, observed_at epoch, obscured). Researchers and an
observation's owner see its true position there; everyone else the public one, and for an obscured
observation the epoch of its UTC date's midnight instead of its time.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
from django.db import connection

from server.observations.sql_relations import observation_rows
from server.species.sql_relations import species_rows

from .filters import MapFilters, filters_sql
from .journal import pending_rows_sql
from .summary import CELL_TABLE, KIND_MAX_ZOOM, KIND_TABLE, SPECIES_TABLE
from .summary import TABLE as SUMMARY_TABLE
from .summary import (cells_select_sql, dated, mercator_sql, species_only, summary_filters_sql, summary_supports,
                      tile_rows_sql, unfiltered)
from .tilemath import CLUSTER_CELLS_PER_TILE, MVT_BUFFER, MVT_EXTENT, Tile, cell_level, tile_cell_range

MAX_POINTS_PER_TILE = 20_000


@dataclass(frozen=True)
class Audience:
    """Who asks: decides which coordinates a point tile may carry."""

    key: str                 # "public", "research" or "user:<id>" (goes into ETags)
    researcher: bool = False
    user_id: int | None = None


PUBLIC = Audience("public")


def audience_for(user) -> Audience:
    from server.common.permissions import is_researcher

    if is_researcher(user):
        return Audience("research", researcher=True, user_id=user.id)
    if user is not None and user.is_authenticated:
        return Audience(f"user:{user.id}", user_id=user.id)
    return PUBLIC


# ST_AsMVT writes features in the order rows reach it, which depends on the plan (a prepared statement's
# generic plan groups cells in another order than a custom one): ordered by every encoded column, the same
# tile is the same bytes whichever plan ran.
CLUSTERS_MVT = (f"SELECT ST_AsMVT(feat, 'clusters', {MVT_EXTENT}, 'geom' ORDER BY feat.count DESC, feat.geom, "
                f"feat.species, feat.species_count, feat.mix) FROM feat WHERE geom IS NOT NULL")

# The finished clusters of ``cells`` (columns of :func:`~server.maps.summary.cells_select_sql`) as features.
CELL_FEATURES = f"""
feat AS (
  SELECT c.n AS count, c.species_count, c.species, c.mix,
         ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(c.sx / c.n, c.sy / c.n), 3857), b.m, {MVT_EXTENT}, {MVT_BUFFER}, true)
           AS geom
  FROM cells c CROSS JOIN bounds b
)
{CLUSTERS_MVT}
"""


def cluster_tail_sql(level: int) -> str:
    """The clusters of the CTE ``by_species`` (cx, cy, species_id, n, sx, sy; one row per cell and species),
    finished as ``maps_tilecell_mix`` finishes them. ``MATERIALIZED``: computed once per cluster, where an inlined
    ``mix`` ran twice (for the feature and for the features' order), a third of a 600-cluster tile's time."""
    return f"""
cells AS MATERIALIZED ({cells_select_sql("TRUE", f"(SELECT {level} AS level, bs.* FROM by_species bs)")}),
{CELL_FEATURES}"""


def raw_cluster_tile_sql(tile: Tile, f: MapFilters) -> tuple[str, list]:
    """Clusters straight from the observations (any filter; the slow path at low zoom), of un-obscured
    observations only, as the summary tables hold them."""
    where, args = filters_sql(f, coarse=True)
    px, py = mercator_sql("o.public_location")
    sql = f"""
WITH env AS (SELECT ST_TileEnvelope(%s, %s, %s) AS m),
bounds AS (SELECT m, ST_Transform(m, 4326) AS g, ST_XMin(m) AS x0, ST_YMin(m) AS y0,
                  (ST_XMax(m) - ST_XMin(m)) / {CLUSTER_CELLS_PER_TILE} AS cell FROM env),
pts AS (
  -- Web Mercator by arithmetic (no per-row geometry): x = R·λ, y = R·ln tan(π/4 + φ/2)
  SELECT o.species_id, {px} AS px, {py} AS py
  FROM {observation_rows()} o
  CROSS JOIN bounds b
  WHERE o.public_location && b.g AND NOT o.obscured AND {where}
),
by_species AS (
  SELECT floor((px - b.x0) / b.cell)::int AS cx, floor((py - b.y0) / b.cell)::int AS cy, species_id,
         count(*) AS n, sum(px) AS sx, sum(py) AS sy
  FROM pts CROSS JOIN bounds b GROUP BY 1, 2, 3
),{cluster_tail_sql(cell_level(tile.z))}"""
    return sql, [tile.z, tile.x, tile.y, *args]


def cell_cluster_tile_sql(tile: Tile) -> tuple[str, list]:
    """Clusters of the unfiltered map: the tile's finished cells from ``maps_tilecell_mix``, no joins — except
    for cells with pending journal rows, recomputed from their (cell, species) rows plus those."""
    level = cell_level(tile.z)
    pending, pending_args = pending_rows_sql(level, tile_cell_range(tile))
    sql = f"""
WITH bounds AS (SELECT ST_TileEnvelope(%s, %s, %s) AS m),
pending AS MATERIALIZED ({pending}),
dirty AS MATERIALIZED (SELECT DISTINCT cx, cy FROM pending),
merged AS (
  SELECT {level} AS level, u.cx, u.cy, u.species_id, sum(u.n) AS n, sum(u.sx) AS sx, sum(u.sy) AS sy
  FROM (SELECT d.cx, d.cy, s.species_id, s.n, s.sx, s.sy
        FROM dirty d CROSS JOIN LATERAL (  -- OFFSET 0: one index probe per dirty cell, never a scan
          SELECT s.species_id, s.n, s.sx, s.sy FROM {SPECIES_TABLE} s
          WHERE s.level = {level} AND s.cx = d.cx AND s.cy = d.cy OFFSET 0) s
        UNION ALL
        SELECT cx, cy, species_id, n, sx, sy FROM pending) u
  GROUP BY u.cx, u.cy, u.species_id HAVING sum(u.n) > 0
),
cells AS (
  SELECT c.n, c.sx, c.sy, c.species_count, c.species, c.mix FROM {CELL_TABLE} c
  WHERE c.level = %s AND c.tx = %s AND c.ty = %s AND NOT EXISTS (SELECT FROM dirty d WHERE d.cx = c.cx AND d.cy = c.cy)
  UNION ALL
  SELECT f.n, f.sx, f.sy, f.species_count, f.species, f.mix FROM ({cells_select_sql("TRUE", "merged")}) f
),{CELL_FEATURES}"""
    return sql, [tile.z, tile.x, tile.y, *pending_args, level, tile.x, tile.y]


def summary_cluster_tile_sql(tile: Tile, f: MapFilters) -> tuple[str, list]:
    """Clusters from the pre-aggregated tables plus pending journal rows (only for filters they support)."""
    if unfiltered(f):
        return cell_cluster_tile_sql(tile)
    level, cells = cell_level(tile.z), tile_cell_range(tile)
    where, args = summary_filters_sql(f, "c")
    pending_where, pending_filter_args = summary_filters_sql(f, "p")
    pending, pending_args = pending_rows_sql(level, cells, pending_where)
    if dated(f):  # the day table by its (tile, day) index: the tile's rows in the date range, and no others
        source, tile_match, tile_args = SUMMARY_TABLE, tile_rows_sql("c"), [tile.x, tile.y]
    else:  # no day to filter on: the smaller tables where they exist, by their primary keys
        source = SPECIES_TABLE if species_only(f) else KIND_TABLE if tile.z <= KIND_MAX_ZOOM else SUMMARY_TABLE
        tile_match, tile_args = "c.cx BETWEEN %s AND %s AND c.cy BETWEEN %s AND %s", list(cells)
    sql = f"""
WITH bounds AS (SELECT ST_TileEnvelope(%s, %s, %s) AS m),
by_species AS (
  SELECT u.cx, u.cy, u.species_id, sum(u.n) AS n, sum(u.sx) AS sx, sum(u.sy) AS sy
  FROM (SELECT c.cx, c.cy, c.species_id, c.n, c.sx, c.sy
        FROM {source} c
        WHERE c.level = %s AND {tile_match} AND {where}
        UNION ALL
        {pending}) u
  GROUP BY 1, 2, 3 HAVING sum(u.n) > 0
),{cluster_tail_sql(level)}"""
    return sql, [tile.z, tile.x, tile.y, level, *tile_args, *args, *pending_args, *pending_filter_args]


def cluster_tile_sql(tile: Tile, f: MapFilters) -> tuple[str, list]:
    """The summary path when it answers ``f`` exactly, else the raw path."""
    return summary_cluster_tile_sql(tile, f) if summary_supports(f) else raw_cluster_tile_sql(tile, f)


def point_tile_sql(tile: Tile, f: MapFilters, audience: Audience) -> tuple[str, list]:
    where, args = filters_sql(f, coarse=not audience.researcher)
    select_args: list = []
    near_args: list = []
    if audience.researcher:
        shown, visible, near = "o.location", "false", "o.location && b.g"
    elif audience.user_id is not None:  # a player: true position of their own observations only
        own = "o.observer_id = %s"
        visible = "(o.obscured AND o.observer_id IS DISTINCT FROM %s)"  # NOT {own} is NULL for imports
        shown = f"CASE WHEN {own} THEN o.location ELSE o.public_location END"
        near = f"(o.public_location && b.g OR ({own} AND o.location && b.g))"
        select_args, near_args = [audience.user_id] * 3, [audience.user_id]
    else:
        shown, visible, near = "o.public_location", "o.obscured", "o.public_location && b.g"
    # a withheld observation's time is its UTC date (midnight), never the instant
    when = (f"CASE WHEN {visible} THEN extract(epoch FROM date_trunc('day', o.observed_at AT TIME ZONE 'UTC')) "
            f"ELSE extract(epoch FROM o.observed_at) END::bigint")
    sql = f"""
WITH env AS (SELECT ST_TileEnvelope(%s, %s, %s) AS m),
bounds AS (SELECT m, ST_Transform(m, 4326) AS g FROM env),
feat AS (
  SELECT o.id, s.label AS species, o.status, o.confidence,
         {when} AS observed_at, {visible} AS obscured,
         ST_AsMVTGeom(ST_Transform({shown}, 3857), b.m, {MVT_EXTENT}, {MVT_BUFFER}, true) AS geom
  FROM {observation_rows()} o
  JOIN {species_rows()} s ON s.id = o.species_id
  CROSS JOIN bounds b
  WHERE {near} AND {where}
  ORDER BY 5 DESC, o.id  -- by the published time: the order of withheld features must not date them
  LIMIT {MAX_POINTS_PER_TILE}
)
SELECT ST_AsMVT(feat, 'points', {MVT_EXTENT}, 'geom') FROM feat WHERE geom IS NOT NULL
"""
    return sql, [tile.z, tile.x, tile.y, *select_args, *near_args, *args]


def tile_sql(tile: Tile, f: MapFilters, audience: Audience) -> tuple[str, list]:
    return cluster_tile_sql(tile, f) if tile.clustered else point_tile_sql(tile, f, audience)


def mvt_bytes(row: tuple | None) -> bytes:
    """The bytes of a tile query's one row (``ST_AsMVT`` is NULL for an empty tile: empty bytes)."""
    return bytes(row[0]) if row and row[0] is not None else b""


def render_tile(tile: Tile, f: MapFilters, audience: Audience) -> bytes:
    """The tile's MVT bytes (empty bytes for an empty tile).

    Run as a prepared statement with server-side parameters and a binary result, on the request's
    pooled connection: PostgreSQL parses each tile query once per connection instead of once per request,
    and may keep its plan (Django's cursors inline parameters, so nothing of theirs can be prepared); the
    bytea comes back raw instead of as hex."""
    sql, args = tile_sql(tile, f, audience)
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        cur.execute(sql, args, prepare=True, binary=True)
        return mvt_bytes(cur.fetchone())

"""Pre-aggregated cluster cells: the tables that answer low-zoom tiles without reading every observation.

Four tables, for every cluster zoom (0 … POINT_ZOOM − 1, grid level ``z + 5``), hold counts and the
sums of the Web-Mercator coordinates of the observations that are *not obscured* (so a cluster's centroid is
``sx / n, sy / n``). Obscured observations (sensitive species, and records linked to one) are left out of every
cluster: a cluster's circle, or a cluster of one record at a finer zoom, would sit at their public point and
look exact; the map draws them only as their 0.2° cell (:mod:`~server.maps.cell_views`).

* ``maps_tilecell``: one row per (cell, species, UTC day, grade, lower-cased recording type) — any
  combination of those filters;
* ``maps_tilecell_species``: one row per (cell, species) — species filters;
* ``maps_tilecell_kind``: one row per (cell, species, grade, type), zooms 0 … :data:`KIND_MAX_ZOOM` only — grade
  and type filters without dates, without reading a tile's every day in the day table;
* ``maps_tilecell_mix``: one row per cell, keyed by its tile (``tx = cx >> 5``, ``ty = cy >> 5``), with
  the finished cluster: count, number of species, top species label and the top-five ``mix`` JSON — the
  unfiltered map reads one tile's cells by equality and joins nothing.

Kept exact from a journal (:mod:`~server.maps.journal`): statement-level triggers on
``observations_observation`` (insert, update, delete, truncate), whatever writes — the ORM, the
analysis task, the demo import, bulk SQL — append each row's signed contribution to
``maps_tilecell_pending`` inside the writing transaction, and a refresh (a Celery task, seconds later)
folds pending rows into the four tables. Tiles add the pending rows to what they read, so they are
exact at every moment. ``manage.py rebuild_map_summary`` recomputes everything from scratch.

The tables, the index and the trigger functions are created by migrations ``maps`` 0002–0007, which hold
their SQL as frozen text; this module and :mod:`~server.maps.journal` generate the SQL that runs now
(the refresh and trigger functions are checked against the migrated database by the tests).

Which path a cluster tile takes (:func:`summary_supports`):

=====================================================  ==========================================
filters                                                path
=====================================================  ==========================================
none, species, grade, type, and whole-day date ranges  summary table (exact counts)
(``date_from`` at 00:00 UTC, ``date_to`` at day's end)
any of time of day, min_confidence, source, rating,    raw query on ``observations_observation``
or a date bound inside a day (a date-time)
=====================================================  ==========================================

Point tiles (zoom ≥ POINT_ZOOM) always read the observations table.
"""
from __future__ import annotations

from datetime import datetime, time, timezone

from server.observations.sql_relations import observation_rows, observation_table
from server.species.sql_relations import species_table

from .filters import MapFilters
from .tilemath import CELL_LEVEL_SHIFT, MERCATOR_HALF_WORLD, POINT_ZOOM

TABLE = "maps_tilecell"                 # every filterable dimension (species, day, grade, type)
SPECIES_TABLE = "maps_tilecell_species"  # (cell, species) only: species filters
KIND_TABLE = "maps_tilecell_kind"        # (cell, species, grade, type): grade and type filters without dates
CELL_TABLE = "maps_tilecell_mix"         # one finished cluster per cell: the unfiltered map
PENDING_TABLE = "maps_tilecell_pending"  # the journal: contributions not yet folded in (journal.py)
SUMMARY_TABLES = (TABLE, SPECIES_TABLE, KIND_TABLE, CELL_TABLE, PENDING_TABLE)
REFRESH_LOCK = 0x6D617073                # advisory lock key ("maps"): one refresh or rebuild at a time
MIX_SIZE = 5                             # species in a cluster's ``mix``
MIN_LEVEL = CELL_LEVEL_SHIFT                      # zoom 0
MAX_LEVEL = POINT_ZOOM - 1 + CELL_LEVEL_SHIFT     # the last cluster zoom
EARTH_RADIUS_M = 6378137.0
KEY = "level, cx, cy, species_id, day, status, sound_type"
KIND_KEY = "level, cx, cy, species_id, status, sound_type"
KIND_MAX_ZOOM = 10                       # the last zoom maps_tilecell_kind holds
KIND_MAX_LEVEL = KIND_MAX_ZOOM + CELL_LEVEL_SHIFT

SHIFT = MIN_LEVEL  # a cell's tile: (cx >> SHIFT, cy >> SHIFT) at zoom level - SHIFT

# Index on ``maps_tilecell (level, cx >> SHIFT, cy >> SHIFT, day)``: a tile's rows by equality, then its dates as
# a range (:func:`tile_rows_sql`); the primary key alone bounds only the tile's column of cells (``cx BETWEEN``).
TILE_DAY_INDEX = f"{TABLE}_tile_day"


def tile_rows_sql(alias: str = "c") -> str:
    """``WHERE`` fragment matching a tile's cells as :data:`TILE_DAY_INDEX` indexes them; args: the tile's x, y."""
    return f"({alias}.cx >> {SHIFT}) = %s AND ({alias}.cy >> {SHIFT}) = %s"


def cells_select_sql(where: str, source: str = SPECIES_TABLE) -> str:
    """Finished clusters (the ``maps_tilecell_mix`` columns) from (cell, species) rows matching ``where``
    (on alias ``s``) of ``source`` (the table, or a CTE or parenthesised query with its columns level, cx,
    cy, species_id, n, sx, sy): count, species count, top label and top-five mix. Every cluster tile ends with it
    (:func:`~server.maps.tiles.cluster_tail_sql`), so the summary and raw paths finish clusters alike. The labels
    come from the catalogue by its table name (:func:`~server.species.sql_relations.species_table`): this text is
    part of the refresh function the ``maps`` migrations hold as frozen text (:mod:`~server.maps.journal`)."""
    return f"""
SELECT c.level, c.cx >> {SHIFT} AS tx, c.cy >> {SHIFT} AS ty, c.cx, c.cy, c.n, c.sx, c.sy, c.species_count,
       c.labels[1] AS species,
       (SELECT json_agg(json_build_array(t.label, t.n) ORDER BY t.ord)::text
          FROM unnest(c.labels, c.top_n) WITH ORDINALITY AS t(label, n, ord)) AS mix
FROM (
  SELECT s.level, s.cx, s.cy, sum(s.n)::int AS n, sum(s.sx) AS sx, sum(s.sy) AS sy, count(*)::int AS species_count,
         (array_agg(sp.label ORDER BY s.n DESC, s.species_id))[1:{MIX_SIZE}] AS labels,
         (array_agg(s.n ORDER BY s.n DESC, s.species_id))[1:{MIX_SIZE}] AS top_n
  FROM {source} s JOIN {species_table()} sp ON sp.id = s.species_id WHERE {where} GROUP BY s.level, s.cx, s.cy
) c"""


def mercator_sql(col: str) -> tuple[str, str]:
    """SQL for the Web-Mercator (x, y) of a 4326 point column, by arithmetic."""
    px = f"(ST_X({col}) * {MERCATOR_HALF_WORLD} / 180.0)"
    py = (f"(ln(tan(pi() / 4 + radians(least(greatest(ST_Y({col}), -85.0511), 85.0511)) / 2))"
          f" * {EARTH_RADIUS_M})")
    return px, py


def delta_select(src: str, sign: int, where: str = "TRUE") -> str:
    """Rows of a (transition) table as signed cell contributions at the finest level: the columns
    species_id, day, status, sound_type, px, py, cx, cy, sgn (the journal's, in its order). Obscured rows
    contribute nothing: clusters hold un-obscured observations only (see the module docstring)."""
    px, py = mercator_sql("r.public_location")
    size = 2 * MERCATOR_HALF_WORLD / (1 << MAX_LEVEL)
    top = (1 << MAX_LEVEL) - 1
    return f"""
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         {px} AS px, {py} AS py,
         least(greatest(floor(({px} + {MERCATOR_HALF_WORLD}) / {size!r}), 0), {top})::int AS cx,
         least(greatest(floor(({MERCATOR_HALF_WORLD} - {py}) / {size!r}), 0), {top})::int AS cy,
         {sign} AS sgn
  FROM {src} r WHERE NOT r.obscured AND {where}"""


def fill_cells_sql() -> str:
    """Recompute the finished clusters from the (cell, species) table."""
    return f"""TRUNCATE {CELL_TABLE};
INSERT INTO {CELL_TABLE} (level, tx, ty, cx, cy, n, sx, sy, species_count, species, mix)
{cells_select_sql("TRUE")};
ANALYZE {CELL_TABLE};"""


def fill_kinds_sql() -> str:
    """Recompute the (cell, species, grade, type) table from the day table, written in key order: a tile reads a
    range of its key, which then lies on few pages."""
    return f"""TRUNCATE {KIND_TABLE};
INSERT INTO {KIND_TABLE} ({KIND_KEY}, n, sx, sy)
SELECT {KIND_KEY}, sum(n), sum(sx), sum(sy) FROM {TABLE} WHERE level <= {KIND_MAX_LEVEL}
GROUP BY {KIND_KEY} ORDER BY {KIND_KEY};
ANALYZE {KIND_TABLE};"""


def rebuild_sql() -> str:
    """Recompute the tables: the finest level from observations, each coarser one from the level below,
    the (cell, species) table from that, and the finished clusters from that."""
    cols = "species_id, day, status, sound_type"
    finest = f"""
INSERT INTO {TABLE} ({KEY}, n, sx, sy)
SELECT {MAX_LEVEL}, d.cx, d.cy, {cols}, count(*), sum(d.px), sum(d.py)
FROM ({delta_select(observation_rows(), 1)}) d
GROUP BY d.cx, d.cy, {cols};"""
    coarser = "".join(f"""
INSERT INTO {TABLE} ({KEY}, n, sx, sy)
SELECT {lv}, cx >> 1, cy >> 1, {cols}, sum(n), sum(sx), sum(sy) FROM {TABLE} WHERE level = {lv + 1}
GROUP BY cx >> 1, cy >> 1, {cols};""" for lv in range(MAX_LEVEL - 1, MIN_LEVEL - 1, -1))
    species = f"""
INSERT INTO {SPECIES_TABLE} (level, cx, cy, species_id, n, sx, sy)
SELECT level, cx, cy, species_id, sum(n), sum(sx), sum(sy) FROM {TABLE} GROUP BY level, cx, cy, species_id;"""
    return (f"LOCK TABLE {observation_table()} IN SHARE MODE;\nTRUNCATE {TABLE}, {SPECIES_TABLE};"
            + finest + coarser + species + f"\nANALYZE {TABLE};\nANALYZE {SPECIES_TABLE};\n" + fill_cells_sql())


def rebuild(using: str = "default") -> int:
    """Rebuild in one transaction; returns the number of summary rows. Writers wait (share lock) and so does
    a running refresh (advisory lock); the journal, whose rows the rebuild counts already, is emptied."""
    from django.db import connections, transaction

    with transaction.atomic(using=using), connections[using].cursor() as cur:
        cur.execute(f"LOCK TABLE {observation_table()} IN SHARE MODE; SELECT pg_advisory_xact_lock({REFRESH_LOCK}); "
                    f"TRUNCATE {PENDING_TABLE};")
        cur.execute(rebuild_sql() + fill_kinds_sql())
        cur.execute(f"SELECT count(*) FROM {TABLE}")
        return int(cur.fetchone()[0])


def _whole_day_start(value: datetime | None) -> bool:
    return value is None or value.astimezone(timezone.utc).time() == time.min


def _whole_day_end(value: datetime | None) -> bool:
    return value is None or value.astimezone(timezone.utc).time() == time.max


def summary_supports(f: MapFilters) -> bool:
    """Whether the summary answers these filters exactly (see the module docstring's table)."""
    return (f.time_from is None and f.time_to is None and f.min_confidence is None and not f.sources
            and not f.ratings and _whole_day_start(f.date_from) and _whole_day_end(f.date_to))


def dated(f: MapFilters) -> bool:
    """A date bound: only the day table answers."""
    return bool(f.date_from or f.date_to)


def species_only(f: MapFilters) -> bool:
    """No filter but species: the small (cell, species) table answers."""
    return summary_supports(f) and not (dated(f) or f.grades or f.sound_types)


def unfiltered(f: MapFilters) -> bool:
    """No filter at all: the finished clusters of ``maps_tilecell_mix`` answer."""
    return species_only(f) and not f.species_ids


def summary_filters_sql(f: MapFilters, alias: str = "c") -> tuple[str, list]:
    """``WHERE`` fragment on the summary for filters :func:`summary_supports` accepted."""
    parts, args = ["TRUE"], []
    if f.species_ids:
        parts.append(f"{alias}.species_id = ANY(%s)")
        args.append(list(f.species_ids))
    if f.date_from:
        parts.append(f"{alias}.day >= %s")
        args.append(f.date_from.astimezone(timezone.utc).date())
    if f.date_to:
        parts.append(f"{alias}.day <= %s")
        args.append(f.date_to.astimezone(timezone.utc).date())
    if f.grades:
        parts.append(f"{alias}.status = ANY(%s)")
        args.append(list(f.grades))
    if f.sound_types:
        parts.append(f"{alias}.sound_type = ANY(%s)")
        args.append(list(f.sound_types))
    return " AND ".join(parts), args

"""Pre-aggregated cluster cells: the table that makes low-zoom tiles cheap at a million observations.

Three tables, for every cluster zoom (0 … POINT_ZOOM − 1, grid level ``z + 5``), hold counts and the
sums of the observations' *public* Web-Mercator coordinates (so a cluster's centroid is ``sx / n, sy / n``):

* ``maps_tilecell``: one row per (cell, species, UTC day, grade, lower-cased recording type) — any
  combination of those filters;
* ``maps_tilecell_species``: one row per (cell, species) — species filters;
* ``maps_tilecell_kind``: one row per (cell, species, grade, type), zooms 0 … :data:`KIND_MAX_ZOOM` only — grade
  and type filters without dates (the day table holds a tile's every day: 73,534 rows for the zoom-4 tile of the
  benchmark's 1,000,000 observations, against 7,004; at zoom 11 and beyond it is only 2–3 times smaller);
* ``maps_tilecell_mix``: one row per cell, keyed by its tile (``tx = cx >> 5``, ``ty = cy >> 5``), with
  the finished cluster: count, number of species, top species label and the top-five ``mix`` JSON — the
  unfiltered map reads one tile's cells by equality and joins nothing.

Kept exact from a journal (:mod:`~server.maps.journal`): statement-level triggers on
``observations_observation`` (insert, update, delete, truncate), whatever writes — the ORM, the
analysis task, the demo import, bulk SQL — append each row's signed contribution to
``maps_tilecell_pending`` inside the writing transaction, and a refresh (a Celery task, seconds later)
folds pending rows into the four tables. Tiles add the pending rows to what they read, so they are
exact at every moment. ``manage.py rebuild_map_summary`` recomputes everything from scratch.
(Migrations 0002–0003 applied the contributions inside the writing transaction: :func:`inline_trigger_sql`.)

Which path a cluster tile takes (:func:`summary_supports`):

=====================================================  ==========================================
filters                                                path
=====================================================  ==========================================
none, species, grade, type, and whole-day date ranges  summary table (exact counts)
(``date_from`` at 00:00 UTC, ``date_to`` at day's end)
any of time of day, min_confidence, source, or a date  raw query on ``observations_observation``
bound inside a day (a date-time)
=====================================================  ==========================================

Point tiles (zoom ≥ POINT_ZOOM) always read the observations table.
"""
from __future__ import annotations

from datetime import datetime, time, timezone

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

CREATE_TABLE_SQL = f"""
CREATE TABLE {TABLE} (
  level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL,
  species_id bigint NOT NULL, day date NOT NULL, status varchar(16) NOT NULL, sound_type varchar(60) NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  PRIMARY KEY ({KEY})
);
CREATE INDEX {TABLE}_empty ON {TABLE} (level) WHERE n <= 0;
CREATE TABLE {SPECIES_TABLE} (
  level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL, species_id bigint NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  PRIMARY KEY (level, cx, cy, species_id)
);
CREATE INDEX {SPECIES_TABLE}_empty ON {SPECIES_TABLE} (level) WHERE n <= 0;
"""
CREATE_CELL_TABLE_SQL = f"""
CREATE TABLE {CELL_TABLE} (
  level smallint NOT NULL, tx integer NOT NULL, ty integer NOT NULL, cx integer NOT NULL, cy integer NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  species_count integer NOT NULL, species text NOT NULL, mix text NOT NULL,
  PRIMARY KEY (level, tx, ty, cx, cy)
);
"""
DROP_TABLE_SQL = f"DROP TABLE IF EXISTS {TABLE}; DROP TABLE IF EXISTS {SPECIES_TABLE}"
DROP_CELL_TABLE_SQL = f"DROP TABLE IF EXISTS {CELL_TABLE}"
CREATE_KIND_TABLE_SQL = f"""
CREATE TABLE {KIND_TABLE} (
  level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL,
  species_id bigint NOT NULL, status varchar(16) NOT NULL, sound_type varchar(60) NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  PRIMARY KEY ({KIND_KEY})
);
CREATE INDEX {KIND_TABLE}_empty ON {KIND_TABLE} (level) WHERE n <= 0;
"""
DROP_KIND_TABLE_SQL = f"DROP TABLE IF EXISTS {KIND_TABLE}"
SHIFT = MIN_LEVEL  # a cell's tile: (cx >> SHIFT, cy >> SHIFT) at zoom level - SHIFT

# A tile's rows of ``maps_tilecell`` by equality, then its dates as a range (:func:`tile_rows_sql`). The primary
# key can only bound the tile's column of cells (``cx BETWEEN``); ``cy`` and ``day`` were then checked row by row
# over every cell and day in that strip of the world, so a month's filter read every day ever observed there.
TILE_DAY_INDEX = f"{TABLE}_tile_day"
CREATE_TILE_DAY_INDEX_SQL = (f"CREATE INDEX {TILE_DAY_INDEX} ON {TABLE} (level, (cx >> {SHIFT}), (cy >> {SHIFT}), day);"
                             f" ANALYZE {TABLE}")
DROP_TILE_DAY_INDEX_SQL = f"DROP INDEX IF EXISTS {TILE_DAY_INDEX}"


def tile_rows_sql(alias: str = "c") -> str:
    """``WHERE`` fragment matching a tile's cells as :data:`TILE_DAY_INDEX` indexes them; args: the tile's x, y."""
    return f"({alias}.cx >> {SHIFT}) = %s AND ({alias}.cy >> {SHIFT}) = %s"


def cells_select_sql(where: str, source: str = SPECIES_TABLE) -> str:
    """Finished clusters (the ``maps_tilecell_mix`` columns) from (cell, species) rows matching ``where``
    (on alias ``s``) of ``source`` (the table, or a CTE or parenthesised query with its columns level, cx,
    cy, species_id, n, sx, sy): count, species count, top label and top-five mix. Every cluster tile ends with it
    (:func:`~server.maps.tiles.cluster_tail_sql`), so the summary and raw paths finish clusters alike."""
    return f"""
SELECT c.level, c.cx >> {SHIFT} AS tx, c.cy >> {SHIFT} AS ty, c.cx, c.cy, c.n, c.sx, c.sy, c.species_count,
       c.labels[1] AS species,
       (SELECT json_agg(json_build_array(t.label, t.n) ORDER BY t.ord)::text
          FROM unnest(c.labels, c.top_n) WITH ORDINALITY AS t(label, n, ord)) AS mix
FROM (
  SELECT s.level, s.cx, s.cy, sum(s.n)::int AS n, sum(s.sx) AS sx, sum(s.sy) AS sy, count(*)::int AS species_count,
         (array_agg(sp.label ORDER BY s.n DESC, s.species_id))[1:{MIX_SIZE}] AS labels,
         (array_agg(s.n ORDER BY s.n DESC, s.species_id))[1:{MIX_SIZE}] AS top_n
  FROM {source} s JOIN species_species sp ON sp.id = s.species_id WHERE {where} GROUP BY s.level, s.cx, s.cy
) c"""


def mercator_sql(col: str) -> tuple[str, str]:
    """SQL for the Web-Mercator (x, y) of a 4326 point column, by arithmetic."""
    px = f"(ST_X({col}) * {MERCATOR_HALF_WORLD} / 180.0)"
    py = (f"(ln(tan(pi() / 4 + radians(least(greatest(ST_Y({col}), -85.0511), 85.0511)) / 2))"
          f" * {EARTH_RADIUS_M})")
    return px, py


def delta_select(src: str, sign: int, where: str = "TRUE") -> str:
    """Rows of a (transition) table as signed cell contributions at the finest level: the columns
    species_id, day, status, sound_type, px, py, cx, cy, sgn (the journal's, in its order)."""
    px, py = mercator_sql("r.public_location")
    size = 2 * MERCATOR_HALF_WORLD / (1 << MAX_LEVEL)
    top = (1 << MAX_LEVEL) - 1
    return f"""
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         {px} AS px, {py} AS py,
         least(greatest(floor(({px} + {MERCATOR_HALF_WORLD}) / {size!r}), 0), {top})::int AS cx,
         least(greatest(floor(({MERCATOR_HALF_WORLD} - {py}) / {size!r}), 0), {top})::int AS cy,
         {sign} AS sgn
  FROM {src} r WHERE {where}"""


def touched_sql(delta: str) -> str:
    """plpgsql: the keys of every cell (all levels) the contributions touch, into arrays t_level, t_cx, t_cy."""
    return f"""
SELECT coalesce(array_agg(level), '{{}}'), coalesce(array_agg(cx), '{{}}'), coalesce(array_agg(cy), '{{}}')
  INTO t_level, t_cx, t_cy
FROM (SELECT DISTINCT lv AS level, d.cx >> ({MAX_LEVEL} - lv) AS cx, d.cy >> ({MAX_LEVEL} - lv) AS cy
      FROM ({delta}) d CROSS JOIN generate_series({MIN_LEVEL}, {MAX_LEVEL}) AS lv) touched;"""


def apply_sql(delta: str, kinds: bool = False) -> str:
    """plpgsql: add the signed contributions to every level of the count tables (``kinds``: the kind table's
    levels too, from migration 0006 on), drop emptied rows, then recompute the finished clusters of the
    touched cells (:func:`touched_sql` ran first)."""
    species_key = "level, cx, cy, species_id"
    touched = "unnest(t_level, t_cx, t_cy) AS k(level, cx, cy)"
    kind_cells = f""",
kind_cells AS (
  INSERT INTO {KIND_TABLE} AS t ({KIND_KEY}, n, sx, sy)
  SELECT {KIND_KEY}, sum(n), sum(sx), sum(sy) FROM cells WHERE level <= {KIND_MAX_LEVEL}
  GROUP BY {KIND_KEY} HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0 ORDER BY {KIND_KEY}
  ON CONFLICT ({KIND_KEY}) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
)""" if kinds else ""
    return f"""
WITH delta AS ({delta}),
cells AS (
  SELECT lv AS level, d.cx >> ({MAX_LEVEL} - lv) AS cx, d.cy >> ({MAX_LEVEL} - lv) AS cy, d.species_id, d.day,
         d.status, d.sound_type, sum(d.sgn) AS n, sum(d.sgn * d.px) AS sx, sum(d.sgn * d.py) AS sy
  FROM delta d CROSS JOIN generate_series({MIN_LEVEL}, {MAX_LEVEL}) AS lv
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(d.sgn) <> 0 OR sum(d.sgn * d.px) <> 0 OR sum(d.sgn * d.py) <> 0
),
full_cells AS (
  INSERT INTO {TABLE} AS t ({KEY}, n, sx, sy)
  SELECT {KEY}, n, sx, sy FROM cells ORDER BY {KEY}
  ON CONFLICT ({KEY}) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
){kind_cells}
INSERT INTO {SPECIES_TABLE} AS t ({species_key}, n, sx, sy)
SELECT {species_key}, sum(n), sum(sx), sum(sy) FROM cells GROUP BY {species_key} ORDER BY {species_key}
ON CONFLICT ({species_key}) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;
DELETE FROM {TABLE} WHERE n <= 0;
DELETE FROM {SPECIES_TABLE} WHERE n <= 0;{f"{chr(10)}DELETE FROM {KIND_TABLE} WHERE n <= 0;" if kinds else ""}
DELETE FROM {CELL_TABLE} m USING {touched}
  WHERE m.level = k.level AND m.tx = k.cx >> {SHIFT} AND m.ty = k.cy >> {SHIFT} AND m.cx = k.cx AND m.cy = k.cy;
INSERT INTO {CELL_TABLE} (level, tx, ty, cx, cy, n, sx, sy, species_count, species, mix)
{cells_select_sql(f"(s.level, s.cx, s.cy) IN (SELECT k.level, k.cx, k.cy FROM {touched})")};"""


_CHANGED = """r.id IN (SELECT o2.id FROM old_rows o2 JOIN new_rows n2 ON n2.id = o2.id
  WHERE (o2.species_id, o2.observed_at, o2.status, lower(o2.sound_type), ST_X(o2.public_location), ST_Y(o2.public_location))
        IS DISTINCT FROM
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location)))"""


def trigger_function(name: str, body: str) -> str:
    """A statement-level trigger function (arrays t_level, t_cx, t_cy declared for :func:`touched_sql`)."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
{body}
RETURN NULL;
END $fn$;"""


UPDATE_DELTA = delta_select("old_rows", -1, _CHANGED) + "\n  UNION ALL" + delta_select("new_rows", 1, _CHANGED)
TRIGGER_FUNCTIONS = ("maps_tilecell_on_insert", "maps_tilecell_on_delete", "maps_tilecell_on_update",
                     "maps_tilecell_on_truncate")


def _inline(delta: str) -> str:
    return touched_sql(delta) + "\nIF cardinality(t_level) = 0 THEN\n  RETURN NULL;\nEND IF;" + apply_sql(delta)


def inline_functions_sql() -> str:
    """The trigger functions of migrations 0002–0003: apply contributions (and recompute the touched
    cells' finished clusters) inside the writing transaction. 0004 replaced them with the journal's."""
    bodies = [_inline(delta_select("new_rows", 1)), _inline(delta_select("old_rows", -1)), _inline(UPDATE_DELTA),
              f"TRUNCATE {TABLE}, {SPECIES_TABLE}, {CELL_TABLE};"]
    return "\n".join(trigger_function(name, body) for name, body in zip(TRIGGER_FUNCTIONS, bodies))


def inline_trigger_sql() -> str:
    """Functions and statement-level triggers of migrations 0002–0003 (0004 replaced the functions only)."""
    parts = [
        inline_functions_sql(),
        """
CREATE TRIGGER maps_tilecell_ins AFTER INSERT ON observations_observation
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_insert();
CREATE TRIGGER maps_tilecell_del AFTER DELETE ON observations_observation
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_delete();
CREATE TRIGGER maps_tilecell_upd AFTER UPDATE ON observations_observation
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_update();
CREATE TRIGGER maps_tilecell_trunc AFTER TRUNCATE ON observations_observation
  FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_truncate();""",
    ]
    return "\n".join(parts)


DROP_TRIGGERS_SQL = """
DROP TRIGGER IF EXISTS maps_tilecell_ins ON observations_observation;
DROP TRIGGER IF EXISTS maps_tilecell_del ON observations_observation;
DROP TRIGGER IF EXISTS maps_tilecell_upd ON observations_observation;
DROP TRIGGER IF EXISTS maps_tilecell_trunc ON observations_observation;
DROP FUNCTION IF EXISTS maps_tilecell_on_insert(), maps_tilecell_on_delete(), maps_tilecell_on_update(),
  maps_tilecell_on_truncate();
"""


def fill_cells_sql() -> str:
    """Recompute the finished clusters from the (cell, species) table."""
    return f"""TRUNCATE {CELL_TABLE};
INSERT INTO {CELL_TABLE} (level, tx, ty, cx, cy, n, sx, sy, species_count, species, mix)
{cells_select_sql("TRUE")};
ANALYZE {CELL_TABLE};"""


def fill_kinds_sql() -> str:
    """Recompute the (cell, species, grade, type) table from the day table, written in key order: a tile reads a
    range of its key, which then lies on few pages (in hash order, 10,970 rows of a zoom-4 tile lay on 8,380)."""
    return f"""TRUNCATE {KIND_TABLE};
INSERT INTO {KIND_TABLE} ({KIND_KEY}, n, sx, sy)
SELECT {KIND_KEY}, sum(n), sum(sx), sum(sy) FROM {TABLE} WHERE level <= {KIND_MAX_LEVEL}
GROUP BY {KIND_KEY} ORDER BY {KIND_KEY};
ANALYZE {KIND_TABLE};"""


def rebuild_sql(with_cells: bool = True) -> str:
    """Recompute the tables: the finest level from observations, each coarser one from the level below,
    the (cell, species) table from that, and (``with_cells``) the finished clusters from that."""
    cols = "species_id, day, status, sound_type"
    finest = f"""
INSERT INTO {TABLE} ({KEY}, n, sx, sy)
SELECT {MAX_LEVEL}, d.cx, d.cy, {cols}, count(*), sum(d.px), sum(d.py)
FROM ({delta_select("observations_observation", 1)}) d
GROUP BY d.cx, d.cy, {cols};"""
    coarser = "".join(f"""
INSERT INTO {TABLE} ({KEY}, n, sx, sy)
SELECT {lv}, cx >> 1, cy >> 1, {cols}, sum(n), sum(sx), sum(sy) FROM {TABLE} WHERE level = {lv + 1}
GROUP BY cx >> 1, cy >> 1, {cols};""" for lv in range(MAX_LEVEL - 1, MIN_LEVEL - 1, -1))
    species = f"""
INSERT INTO {SPECIES_TABLE} (level, cx, cy, species_id, n, sx, sy)
SELECT level, cx, cy, species_id, sum(n), sum(sx), sum(sy) FROM {TABLE} GROUP BY level, cx, cy, species_id;"""
    return (f"LOCK TABLE observations_observation IN SHARE MODE;\nTRUNCATE {TABLE}, {SPECIES_TABLE};"
            + finest + coarser + species + f"\nANALYZE {TABLE};\nANALYZE {SPECIES_TABLE};\n"
            + (fill_cells_sql() if with_cells else ""))


def rebuild(using: str = "default") -> int:
    """Rebuild in one transaction; returns the number of summary rows. Writers wait (share lock) and so does
    a running refresh (advisory lock); the journal, whose rows the rebuild counts already, is emptied."""
    from django.db import connections, transaction

    with transaction.atomic(using=using), connections[using].cursor() as cur:
        cur.execute(f"LOCK TABLE observations_observation IN SHARE MODE; SELECT pg_advisory_xact_lock({REFRESH_LOCK}); "
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
            and _whole_day_start(f.date_from) and _whole_day_end(f.date_to))


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

"""The summary journal: observation changes wait in ``maps_tilecell_pending`` until a refresh folds them in.

The statement-level triggers on ``observations_observation`` never touch the summary tables: a
writing statement appends its rows' signed contributions (finest cell, species, UTC day, grade, type,
Web-Mercator x/y, +1 or −1) to the journal — one insert, no shared row updated, so concurrent ingest
never waits on another transaction's summary row lock. ``maps_tilecell_refresh(limit)`` (plpgsql)
applies the oldest pending rows to the four summary tables, recomputes the touched cells' finished
clusters and deletes exactly those rows, all in the caller's transaction: a refresh that dies before
commit leaves the journal as it was, one that commits never applies a row twice. Refreshes and
:func:`~server.maps.summary.rebuild` take the same transaction-level advisory lock.

Tiles do not wait for a refresh: the summary paths of :mod:`~server.maps.tiles` add the tile's pending
rows (:func:`pending_rows_sql`) to what they read, so they are exact at every moment; refreshing only
keeps the journal short. (:mod:`~server.maps.refresh` runs refreshes.)

:func:`refresh_function_sql` and :func:`journal_functions_sql` are the SQL of the functions migration
``maps`` 0006 and 0007 installed (they hold them as frozen text; a test compares the migrated database with them):
changing either needs a new migration that installs the new text.
"""
from __future__ import annotations

from .summary import (CELL_TABLE, KIND_KEY, KIND_MAX_LEVEL, KIND_TABLE, KEY, MAX_LEVEL, MIN_LEVEL, PENDING_TABLE,
                      REFRESH_LOCK, SHIFT, SPECIES_TABLE, TABLE, cells_select_sql, delta_select)

COLUMNS = "species_id, day, status, sound_type, px, py, cx, cy, sgn"  # delta_select's, in its order


def touched_sql(delta: str) -> str:
    """plpgsql: the keys of every cell (all levels) the contributions touch, into arrays t_level, t_cx, t_cy."""
    return f"""
SELECT coalesce(array_agg(level), '{{}}'), coalesce(array_agg(cx), '{{}}'), coalesce(array_agg(cy), '{{}}')
  INTO t_level, t_cx, t_cy
FROM (SELECT DISTINCT lv AS level, d.cx >> ({MAX_LEVEL} - lv) AS cx, d.cy >> ({MAX_LEVEL} - lv) AS cy
      FROM ({delta}) d CROSS JOIN generate_series({MIN_LEVEL}, {MAX_LEVEL}) AS lv) touched;"""


def apply_sql(delta: str) -> str:
    """plpgsql: add the signed contributions to every level of the count tables (the kind table's levels up to
    :data:`~server.maps.summary.KIND_MAX_LEVEL`), drop emptied rows, then recompute the finished clusters of
    the touched cells (:func:`touched_sql` ran first)."""
    species_key = "level, cx, cy, species_id"
    touched = "unnest(t_level, t_cx, t_cy) AS k(level, cx, cy)"
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
),
kind_cells AS (
  INSERT INTO {KIND_TABLE} AS t ({KIND_KEY}, n, sx, sy)
  SELECT {KIND_KEY}, sum(n), sum(sx), sum(sy) FROM cells WHERE level <= {KIND_MAX_LEVEL}
  GROUP BY {KIND_KEY} HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0 ORDER BY {KIND_KEY}
  ON CONFLICT ({KIND_KEY}) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
)
INSERT INTO {SPECIES_TABLE} AS t ({species_key}, n, sx, sy)
SELECT {species_key}, sum(n), sum(sx), sum(sy) FROM cells GROUP BY {species_key} ORDER BY {species_key}
ON CONFLICT ({species_key}) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;
DELETE FROM {TABLE} WHERE n <= 0;
DELETE FROM {SPECIES_TABLE} WHERE n <= 0;
DELETE FROM {KIND_TABLE} WHERE n <= 0;
DELETE FROM {CELL_TABLE} m USING {touched}
  WHERE m.level = k.level AND m.tx = k.cx >> {SHIFT} AND m.ty = k.cy >> {SHIFT} AND m.cx = k.cx AND m.cy = k.cy;
INSERT INTO {CELL_TABLE} (level, tx, ty, cx, cy, n, sx, sy, species_count, species, mix)
{cells_select_sql(f"(s.level, s.cx, s.cy) IN (SELECT k.level, k.cx, k.cy FROM {touched})")};"""


def refresh_function_sql() -> str:
    """``maps_tilecell_refresh(p_limit)``: fold the oldest ``p_limit`` (NULL: all) journal rows into the summary
    tables and delete them, under the advisory lock; returns how many."""
    pending = f"SELECT {COLUMNS} FROM {PENDING_TABLE} WHERE id = ANY(p_ids)"
    return f"""
CREATE OR REPLACE FUNCTION maps_tilecell_refresh(p_limit integer) RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE p_ids bigint[]; t_level int[]; t_cx int[]; t_cy int[];
BEGIN
PERFORM pg_advisory_xact_lock({REFRESH_LOCK});
SELECT coalesce(array_agg(id), '{{}}') INTO p_ids
  FROM (SELECT id FROM {PENDING_TABLE} ORDER BY id LIMIT p_limit) oldest;
IF cardinality(p_ids) = 0 THEN
  RETURN 0;
END IF;
{touched_sql(pending)}
{apply_sql(pending)}
DELETE FROM {PENDING_TABLE} WHERE id = ANY(p_ids);
RETURN cardinality(p_ids);
END $fn$;
COMMENT ON FUNCTION maps_tilecell_refresh(integer) IS
  'Fold the oldest p_limit (NULL: all) rows of {PENDING_TABLE} into the map summary; returns how many.';
"""


_CHANGED = """r.id IN (SELECT o2.id FROM old_rows o2 JOIN new_rows n2 ON n2.id = o2.id
  WHERE (o2.species_id, o2.observed_at, o2.status, lower(o2.sound_type), ST_X(o2.public_location), ST_Y(o2.public_location),
         o2.obscured)
        IS DISTINCT FROM
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location),
         n2.obscured))"""
UPDATE_DELTA = delta_select("old_rows", -1, _CHANGED) + "\n  UNION ALL" + delta_select("new_rows", 1, _CHANGED)
TRIGGER_FUNCTIONS = ("maps_tilecell_on_insert", "maps_tilecell_on_delete", "maps_tilecell_on_update",
                     "maps_tilecell_on_truncate")  # run by the statement-level triggers of migration 0002


def trigger_function(name: str, body: str) -> str:
    """A statement-level trigger function (arrays t_level, t_cx, t_cy declared for :func:`touched_sql`)."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
{body}
RETURN NULL;
END $fn$;"""


def _append(delta: str) -> str:
    return f"INSERT INTO {PENDING_TABLE} ({COLUMNS}){delta};"


def journal_functions_sql() -> str:
    """The trigger functions: insert, delete and update append their un-obscured rows' signed contributions to the
    journal (an update only for rows whose summary key, position or obscuring changed: a record that becomes
    obscured leaves its cluster); a truncate empties every summary table."""
    tables = [TABLE, SPECIES_TABLE, KIND_TABLE, CELL_TABLE, PENDING_TABLE]
    bodies = [_append(delta_select("new_rows", 1)), _append(delta_select("old_rows", -1)), _append(UPDATE_DELTA),
              f"TRUNCATE {', '.join(tables)};"]
    return "\n".join(trigger_function(name, body) for name, body in zip(TRIGGER_FUNCTIONS, bodies))


def pending_rows_sql(level: int, cells: tuple[int, int, int, int], where: str = "TRUE") -> tuple[str, list]:
    """Pending contributions inside an inclusive ``(cx0, cx1, cy0, cy1)`` cell range of ``level``, as rows
    (cx, cy, species_id, n, sx, sy) at that level; ``where`` filters on alias ``p`` (its args follow)."""
    shift = MAX_LEVEL - level
    cx0, cx1, cy0, cy1 = cells
    sql = f"""SELECT p.cx >> {shift} AS cx, p.cy >> {shift} AS cy, p.species_id, p.sgn::int AS n,
         p.sgn * p.px AS sx, p.sgn * p.py AS sy
  FROM {PENDING_TABLE} p
  WHERE p.cx BETWEEN %s AND %s AND p.cy BETWEEN %s AND %s AND {where}"""
    return sql, [cx0 << shift, ((cx1 + 1) << shift) - 1, cy0 << shift, ((cy1 + 1) << shift) - 1]

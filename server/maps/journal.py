"""The summary journal: observation changes wait in ``maps_tilecell_pending`` until a refresh folds them in.

The statement-level triggers on ``observations_observation`` no longer touch the summary tables: a
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
"""
from __future__ import annotations

from .summary import (CELL_TABLE, KIND_TABLE, MAX_LEVEL, PENDING_TABLE, REFRESH_LOCK, SPECIES_TABLE, TABLE,
                      TRIGGER_FUNCTIONS, UPDATE_DELTA, apply_sql, delta_select, inline_functions_sql,
                      touched_sql, trigger_function)

COLUMNS = "species_id, day, status, sound_type, px, py, cx, cy, sgn"  # delta_select's, in its order

CREATE_PENDING_SQL = f"""
CREATE TABLE {PENDING_TABLE} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  species_id bigint NOT NULL, day date NOT NULL, status varchar(16) NOT NULL, sound_type varchar(60) NOT NULL,
  px double precision NOT NULL, py double precision NOT NULL,
  cx integer NOT NULL, cy integer NOT NULL,  -- the finest cell (level MAX_LEVEL)
  sgn smallint NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
        autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
CREATE INDEX {PENDING_TABLE}_cell ON {PENDING_TABLE} (cx, cy);
"""
DROP_PENDING_SQL = f"DROP TABLE IF EXISTS {PENDING_TABLE}"

def refresh_function_sql(kinds: bool = True) -> str:
    """``maps_tilecell_refresh``; ``kinds``: it also keeps ``maps_tilecell_kind`` (from migration 0006 on)."""
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
{apply_sql(pending, kinds)}
DELETE FROM {PENDING_TABLE} WHERE id = ANY(p_ids);
RETURN cardinality(p_ids);
END $fn$;
COMMENT ON FUNCTION maps_tilecell_refresh(integer) IS
  'Fold the oldest p_limit (NULL: all) rows of {PENDING_TABLE} into the map summary; returns how many.';
"""
DROP_REFRESH_FUNCTION_SQL = "DROP FUNCTION IF EXISTS maps_tilecell_refresh(integer)"


def _append(delta: str) -> str:
    return f"INSERT INTO {PENDING_TABLE} ({COLUMNS}){delta};"


def journal_functions_sql(kinds: bool = True) -> str:
    """The trigger functions (same names and triggers as 0002–0003) that only append to the journal; a truncate
    empties every summary table (``kinds``: ``maps_tilecell_kind`` too, from migration 0006 on)."""
    tables = [TABLE, SPECIES_TABLE, *([KIND_TABLE] if kinds else []), CELL_TABLE, PENDING_TABLE]
    bodies = [_append(delta_select("new_rows", 1)), _append(delta_select("old_rows", -1)), _append(UPDATE_DELTA),
              f"TRUNCATE {', '.join(tables)};"]
    return "\n".join(trigger_function(name, body) for name, body in zip(TRIGGER_FUNCTIONS, bodies))


# Going back to 0003: fold what is pending into the tables first, then restore the inline functions.
RESTORE_INLINE_SQL = "SELECT maps_tilecell_refresh(NULL);\n" + inline_functions_sql()


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

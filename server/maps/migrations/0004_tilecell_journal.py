"""The summary journal: triggers append to ``maps_tilecell_pending``; a refresh (Celery) folds it in.

0006 reuses :data:`REFRESH_FUNCTION_SQL` and :data:`JOURNAL_FUNCTIONS_SQL` to go back to this state.
"""
from importlib import import_module

from django.db import migrations

initial = import_module("server.maps.migrations.0002_tilecell_summary")

# Frozen SQL: the text this migration ran when it was written. Never edit it; change the schema in a new migration.

PENDING_TABLE_SQL = """
CREATE TABLE maps_tilecell_pending (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  species_id bigint NOT NULL, day date NOT NULL, status varchar(16) NOT NULL, sound_type varchar(60) NOT NULL,
  px double precision NOT NULL, py double precision NOT NULL,
  cx integer NOT NULL, cy integer NOT NULL,  -- the finest cell (level MAX_LEVEL)
  sgn smallint NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
        autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
CREATE INDEX maps_tilecell_pending_cell ON maps_tilecell_pending (cx, cy);
"""

DROP_PENDING_TABLE_SQL = "DROP TABLE IF EXISTS maps_tilecell_pending"

REFRESH_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION maps_tilecell_refresh(p_limit integer) RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE p_ids bigint[]; t_level int[]; t_cx int[]; t_cy int[];
BEGIN
PERFORM pg_advisory_xact_lock(1835102323);
SELECT coalesce(array_agg(id), '{}') INTO p_ids
  FROM (SELECT id FROM maps_tilecell_pending ORDER BY id LIMIT p_limit) oldest;
IF cardinality(p_ids) = 0 THEN
  RETURN 0;
END IF;

SELECT coalesce(array_agg(level), '{}'), coalesce(array_agg(cx), '{}'), coalesce(array_agg(cy), '{}')
  INTO t_level, t_cx, t_cy
FROM (SELECT DISTINCT lv AS level, d.cx >> (20 - lv) AS cx, d.cy >> (20 - lv) AS cy
      FROM (SELECT species_id, day, status, sound_type, px, py, cx, cy, sgn FROM maps_tilecell_pending WHERE id = ANY(p_ids)) d CROSS JOIN generate_series(5, 20) AS lv) touched;

WITH delta AS (SELECT species_id, day, status, sound_type, px, py, cx, cy, sgn FROM maps_tilecell_pending WHERE id = ANY(p_ids)),
cells AS (
  SELECT lv AS level, d.cx >> (20 - lv) AS cx, d.cy >> (20 - lv) AS cy, d.species_id, d.day,
         d.status, d.sound_type, sum(d.sgn) AS n, sum(d.sgn * d.px) AS sx, sum(d.sgn * d.py) AS sy
  FROM delta d CROSS JOIN generate_series(5, 20) AS lv
  GROUP BY 1, 2, 3, 4, 5, 6, 7
  HAVING sum(d.sgn) <> 0 OR sum(d.sgn * d.px) <> 0 OR sum(d.sgn * d.py) <> 0
),
full_cells AS (
  INSERT INTO maps_tilecell AS t (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
  SELECT level, cx, cy, species_id, day, status, sound_type, n, sx, sy FROM cells ORDER BY level, cx, cy, species_id, day, status, sound_type
  ON CONFLICT (level, cx, cy, species_id, day, status, sound_type) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
)
INSERT INTO maps_tilecell_species AS t (level, cx, cy, species_id, n, sx, sy)
SELECT level, cx, cy, species_id, sum(n), sum(sx), sum(sy) FROM cells GROUP BY level, cx, cy, species_id ORDER BY level, cx, cy, species_id
ON CONFLICT (level, cx, cy, species_id) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;
DELETE FROM maps_tilecell WHERE n <= 0;
DELETE FROM maps_tilecell_species WHERE n <= 0;
DELETE FROM maps_tilecell_mix m USING unnest(t_level, t_cx, t_cy) AS k(level, cx, cy)
  WHERE m.level = k.level AND m.tx = k.cx >> 5 AND m.ty = k.cy >> 5 AND m.cx = k.cx AND m.cy = k.cy;
INSERT INTO maps_tilecell_mix (level, tx, ty, cx, cy, n, sx, sy, species_count, species, mix)

SELECT c.level, c.cx >> 5 AS tx, c.cy >> 5 AS ty, c.cx, c.cy, c.n, c.sx, c.sy, c.species_count,
       c.labels[1] AS species,
       (SELECT json_agg(json_build_array(t.label, t.n) ORDER BY t.ord)::text
          FROM unnest(c.labels, c.top_n) WITH ORDINALITY AS t(label, n, ord)) AS mix
FROM (
  SELECT s.level, s.cx, s.cy, sum(s.n)::int AS n, sum(s.sx) AS sx, sum(s.sy) AS sy, count(*)::int AS species_count,
         (array_agg(sp.label ORDER BY s.n DESC, s.species_id))[1:5] AS labels,
         (array_agg(s.n ORDER BY s.n DESC, s.species_id))[1:5] AS top_n
  FROM maps_tilecell_species s JOIN species_species sp ON sp.id = s.species_id WHERE (s.level, s.cx, s.cy) IN (SELECT k.level, k.cx, k.cy FROM unnest(t_level, t_cx, t_cy) AS k(level, cx, cy)) GROUP BY s.level, s.cx, s.cy
) c;
DELETE FROM maps_tilecell_pending WHERE id = ANY(p_ids);
RETURN cardinality(p_ids);
END $fn$;
COMMENT ON FUNCTION maps_tilecell_refresh(integer) IS
  'Fold the oldest p_limit (NULL: all) rows of maps_tilecell_pending into the map summary; returns how many.';
"""

DROP_REFRESH_FUNCTION_SQL = "DROP FUNCTION IF EXISTS maps_tilecell_refresh(integer)"

JOURNAL_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION maps_tilecell_on_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
INSERT INTO maps_tilecell_pending (species_id, day, status, sound_type, px, py, cx, cy, sgn)
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM new_rows r WHERE TRUE;
RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION maps_tilecell_on_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
INSERT INTO maps_tilecell_pending (species_id, day, status, sound_type, px, py, cx, cy, sgn)
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         -1 AS sgn
  FROM old_rows r WHERE TRUE;
RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION maps_tilecell_on_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
INSERT INTO maps_tilecell_pending (species_id, day, status, sound_type, px, py, cx, cy, sgn)
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         -1 AS sgn
  FROM old_rows r WHERE r.id IN (SELECT o2.id FROM old_rows o2 JOIN new_rows n2 ON n2.id = o2.id
  WHERE (o2.species_id, o2.observed_at, o2.status, lower(o2.sound_type), ST_X(o2.public_location), ST_Y(o2.public_location))
        IS DISTINCT FROM
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location)))
  UNION ALL
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM new_rows r WHERE r.id IN (SELECT o2.id FROM old_rows o2 JOIN new_rows n2 ON n2.id = o2.id
  WHERE (o2.species_id, o2.observed_at, o2.status, lower(o2.sound_type), ST_X(o2.public_location), ST_Y(o2.public_location))
        IS DISTINCT FROM
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location)));
RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION maps_tilecell_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
TRUNCATE maps_tilecell, maps_tilecell_species, maps_tilecell_mix, maps_tilecell_pending;
RETURN NULL;
END $fn$;"""

# Going back to 0003: fold what is pending into the tables first, then restore the inline functions.
RESTORE_INLINE_SQL = "SELECT maps_tilecell_refresh(NULL);\n" + initial.INLINE_FUNCTIONS_SQL


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0003_tilecell_mix"),
    ]

    operations = [
        migrations.RunSQL(PENDING_TABLE_SQL, DROP_PENDING_TABLE_SQL),
        migrations.RunSQL(REFRESH_FUNCTION_SQL, DROP_REFRESH_FUNCTION_SQL),
        # Same triggers, new function bodies; going back drains the journal, then restores the inline ones.
        migrations.RunSQL(JOURNAL_FUNCTIONS_SQL, RESTORE_INLINE_SQL),
    ]

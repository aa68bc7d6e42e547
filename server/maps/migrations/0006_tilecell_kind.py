"""``maps_tilecell_kind``: (cell, species, grade, type) counts for grade and type filters without dates.

The refresh and the trigger functions it installs are the ones :mod:`server.maps.journal` describes.
"""
from importlib import import_module

from django.db import migrations

journal_v1 = import_module("server.maps.migrations.0004_tilecell_journal")

# Frozen SQL: the text this migration ran when it was written. Never edit it; change the schema in a new migration.

LOCK_SQL = "SELECT pg_advisory_xact_lock(1835102323);"  # the refresh's lock: none folds rows in while the table fills

KIND_TABLE_SQL = """
CREATE TABLE maps_tilecell_kind (
  level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL,
  species_id bigint NOT NULL, status varchar(16) NOT NULL, sound_type varchar(60) NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  PRIMARY KEY (level, cx, cy, species_id, status, sound_type)
);
CREATE INDEX maps_tilecell_kind_empty ON maps_tilecell_kind (level) WHERE n <= 0;
"""

FILL_KINDS_SQL = """TRUNCATE maps_tilecell_kind;
INSERT INTO maps_tilecell_kind (level, cx, cy, species_id, status, sound_type, n, sx, sy)
SELECT level, cx, cy, species_id, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level <= 15
GROUP BY level, cx, cy, species_id, status, sound_type ORDER BY level, cx, cy, species_id, status, sound_type;
ANALYZE maps_tilecell_kind;"""

DROP_KIND_TABLE_SQL = "DROP TABLE IF EXISTS maps_tilecell_kind"

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
),
kind_cells AS (
  INSERT INTO maps_tilecell_kind AS t (level, cx, cy, species_id, status, sound_type, n, sx, sy)
  SELECT level, cx, cy, species_id, status, sound_type, sum(n), sum(sx), sum(sy) FROM cells WHERE level <= 15
  GROUP BY level, cx, cy, species_id, status, sound_type HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0 ORDER BY level, cx, cy, species_id, status, sound_type
  ON CONFLICT (level, cx, cy, species_id, status, sound_type) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
)
INSERT INTO maps_tilecell_species AS t (level, cx, cy, species_id, n, sx, sy)
SELECT level, cx, cy, species_id, sum(n), sum(sx), sum(sy) FROM cells GROUP BY level, cx, cy, species_id ORDER BY level, cx, cy, species_id
ON CONFLICT (level, cx, cy, species_id) DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;
DELETE FROM maps_tilecell WHERE n <= 0;
DELETE FROM maps_tilecell_species WHERE n <= 0;
DELETE FROM maps_tilecell_kind WHERE n <= 0;
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
TRUNCATE maps_tilecell, maps_tilecell_species, maps_tilecell_kind, maps_tilecell_mix, maps_tilecell_pending;
RETURN NULL;
END $fn$;"""


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0005_tilecell_tile_day_index"),
    ]

    operations = [
        migrations.RunSQL(LOCK_SQL + KIND_TABLE_SQL + FILL_KINDS_SQL, DROP_KIND_TABLE_SQL),
        migrations.RunSQL(REFRESH_FUNCTION_SQL + JOURNAL_FUNCTIONS_SQL,
                          journal_v1.REFRESH_FUNCTION_SQL + journal_v1.JOURNAL_FUNCTIONS_SQL),
    ]

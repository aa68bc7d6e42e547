"""The pre-aggregated cluster-cell tables, their triggers, and a first fill from existing observations.

The trigger functions apply each writing statement's contributions inside its transaction; 0004 replaces
them with the journal's. Their bodies also write ``maps_tilecell_mix`` (0003): plpgsql resolves tables when
it runs. Later migrations reuse :data:`INLINE_FUNCTIONS_SQL`, :data:`TRIGGERS_SQL` and
:data:`DROP_TRIGGERS_SQL`.
"""
from django.db import migrations

# Frozen SQL: the text this migration ran when it was written. Never edit it; change the schema in a new migration.

TABLES_SQL = """
CREATE TABLE maps_tilecell (
  level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL,
  species_id bigint NOT NULL, day date NOT NULL, status varchar(16) NOT NULL, sound_type varchar(60) NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  PRIMARY KEY (level, cx, cy, species_id, day, status, sound_type)
);
CREATE INDEX maps_tilecell_empty ON maps_tilecell (level) WHERE n <= 0;
CREATE TABLE maps_tilecell_species (
  level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL, species_id bigint NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  PRIMARY KEY (level, cx, cy, species_id)
);
CREATE INDEX maps_tilecell_species_empty ON maps_tilecell_species (level) WHERE n <= 0;
"""

DROP_TABLES_SQL = "DROP TABLE IF EXISTS maps_tilecell; DROP TABLE IF EXISTS maps_tilecell_species"

INLINE_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION maps_tilecell_on_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN

SELECT coalesce(array_agg(level), '{}'), coalesce(array_agg(cx), '{}'), coalesce(array_agg(cy), '{}')
  INTO t_level, t_cx, t_cy
FROM (SELECT DISTINCT lv AS level, d.cx >> (20 - lv) AS cx, d.cy >> (20 - lv) AS cy
      FROM (
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM new_rows r WHERE TRUE) d CROSS JOIN generate_series(5, 20) AS lv) touched;
IF cardinality(t_level) = 0 THEN
  RETURN NULL;
END IF;
WITH delta AS (
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM new_rows r WHERE TRUE),
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
RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION maps_tilecell_on_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN

SELECT coalesce(array_agg(level), '{}'), coalesce(array_agg(cx), '{}'), coalesce(array_agg(cy), '{}')
  INTO t_level, t_cx, t_cy
FROM (SELECT DISTINCT lv AS level, d.cx >> (20 - lv) AS cx, d.cy >> (20 - lv) AS cy
      FROM (
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         -1 AS sgn
  FROM old_rows r WHERE TRUE) d CROSS JOIN generate_series(5, 20) AS lv) touched;
IF cardinality(t_level) = 0 THEN
  RETURN NULL;
END IF;
WITH delta AS (
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         -1 AS sgn
  FROM old_rows r WHERE TRUE),
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
RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION maps_tilecell_on_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN

SELECT coalesce(array_agg(level), '{}'), coalesce(array_agg(cx), '{}'), coalesce(array_agg(cy), '{}')
  INTO t_level, t_cx, t_cy
FROM (SELECT DISTINCT lv AS level, d.cx >> (20 - lv) AS cx, d.cy >> (20 - lv) AS cy
      FROM (
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
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location)))) d CROSS JOIN generate_series(5, 20) AS lv) touched;
IF cardinality(t_level) = 0 THEN
  RETURN NULL;
END IF;
WITH delta AS (
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
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location)))),
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
RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION maps_tilecell_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE t_level int[]; t_cx int[]; t_cy int[];
BEGIN
TRUNCATE maps_tilecell, maps_tilecell_species, maps_tilecell_mix;
RETURN NULL;
END $fn$;"""

TRIGGERS_SQL = """
CREATE TRIGGER maps_tilecell_ins AFTER INSERT ON observations_observation
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_insert();
CREATE TRIGGER maps_tilecell_del AFTER DELETE ON observations_observation
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_delete();
CREATE TRIGGER maps_tilecell_upd AFTER UPDATE ON observations_observation
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_update();
CREATE TRIGGER maps_tilecell_trunc AFTER TRUNCATE ON observations_observation
  FOR EACH STATEMENT EXECUTE FUNCTION maps_tilecell_on_truncate();"""

DROP_TRIGGERS_SQL = """
DROP TRIGGER IF EXISTS maps_tilecell_ins ON observations_observation;
DROP TRIGGER IF EXISTS maps_tilecell_del ON observations_observation;
DROP TRIGGER IF EXISTS maps_tilecell_upd ON observations_observation;
DROP TRIGGER IF EXISTS maps_tilecell_trunc ON observations_observation;
DROP FUNCTION IF EXISTS maps_tilecell_on_insert(), maps_tilecell_on_delete(), maps_tilecell_on_update(),
  maps_tilecell_on_truncate();
"""

FIRST_FILL_SQL = """LOCK TABLE observations_observation IN SHARE MODE;
TRUNCATE maps_tilecell, maps_tilecell_species;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 20, d.cx, d.cy, species_id, day, status, sound_type, count(*), sum(d.px), sum(d.py)
FROM (
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM observations_observation r WHERE TRUE) d
GROUP BY d.cx, d.cy, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 19, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 20
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 18, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 19
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 17, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 18
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 16, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 17
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 15, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 16
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 14, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 15
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 13, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 14
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 12, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 13
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 11, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 12
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 10, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 11
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 9, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 10
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 8, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 9
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 7, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 8
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 6, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 7
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell (level, cx, cy, species_id, day, status, sound_type, n, sx, sy)
SELECT 5, cx >> 1, cy >> 1, species_id, day, status, sound_type, sum(n), sum(sx), sum(sy) FROM maps_tilecell WHERE level = 6
GROUP BY cx >> 1, cy >> 1, species_id, day, status, sound_type;
INSERT INTO maps_tilecell_species (level, cx, cy, species_id, n, sx, sy)
SELECT level, cx, cy, species_id, sum(n), sum(sx), sum(sy) FROM maps_tilecell GROUP BY level, cx, cy, species_id;
ANALYZE maps_tilecell;
ANALYZE maps_tilecell_species;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0001_initial"),
        ("observations", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(TABLES_SQL, DROP_TABLES_SQL),
        migrations.RunSQL(INLINE_FUNCTIONS_SQL + "\n" + TRIGGERS_SQL, DROP_TRIGGERS_SQL),
        migrations.RunSQL(FIRST_FILL_SQL, migrations.RunSQL.noop),
    ]

"""Obscured observations leave the map's clusters: the trigger functions journal un-obscured rows only (an update
that obscures a record withdraws it), and every observation obscured now is withdrawn through the journal (tiles
add pending rows, so they are exact at once; the refresh folds them in).

The trigger functions it installs are the ones :mod:`server.maps.journal` describes.
"""
from importlib import import_module

from django.db import migrations

journal_v2 = import_module("server.maps.migrations.0006_tilecell_kind")

# Frozen SQL: the text this migration ran when it was written. Never edit it; change the schema in a new migration.

# writers wait (no statement may journal under the old functions after the withdrawal), and so does a refresh
LOCK_SQL = "LOCK TABLE observations_observation IN SHARE ROW EXCLUSIVE MODE; SELECT pg_advisory_xact_lock(1835102323);"

WITHDRAW_OBSCURED_SQL = """INSERT INTO maps_tilecell_pending (species_id, day, status, sound_type, px, py, cx, cy, sgn)
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         -1 AS sgn
  FROM observations_observation r WHERE r.obscured;"""

RESTORE_OBSCURED_SQL = """INSERT INTO maps_tilecell_pending (species_id, day, status, sound_type, px, py, cx, cy, sgn)
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM observations_observation r WHERE r.obscured;"""

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
  FROM new_rows r WHERE NOT r.obscured AND TRUE;
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
  FROM old_rows r WHERE NOT r.obscured AND TRUE;
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
  FROM old_rows r WHERE NOT r.obscured AND r.id IN (SELECT o2.id FROM old_rows o2 JOIN new_rows n2 ON n2.id = o2.id
  WHERE (o2.species_id, o2.observed_at, o2.status, lower(o2.sound_type), ST_X(o2.public_location), ST_Y(o2.public_location),
         o2.obscured)
        IS DISTINCT FROM
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location),
         n2.obscured))
  UNION ALL
  SELECT r.species_id, (r.observed_at AT TIME ZONE 'UTC')::date AS day, r.status, lower(r.sound_type) AS sound_type,
         (ST_X(r.public_location) * 20037508.342789244 / 180.0) AS px, (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0) AS py,
         least(greatest(floor(((ST_X(r.public_location) * 20037508.342789244 / 180.0) + 20037508.342789244) / 38.21851414258813), 0), 1048575)::int AS cx,
         least(greatest(floor((20037508.342789244 - (ln(tan(pi() / 4 + radians(least(greatest(ST_Y(r.public_location), -85.0511), 85.0511)) / 2)) * 6378137.0)) / 38.21851414258813), 0), 1048575)::int AS cy,
         1 AS sgn
  FROM new_rows r WHERE NOT r.obscured AND r.id IN (SELECT o2.id FROM old_rows o2 JOIN new_rows n2 ON n2.id = o2.id
  WHERE (o2.species_id, o2.observed_at, o2.status, lower(o2.sound_type), ST_X(o2.public_location), ST_Y(o2.public_location),
         o2.obscured)
        IS DISTINCT FROM
        (n2.species_id, n2.observed_at, n2.status, lower(n2.sound_type), ST_X(n2.public_location), ST_Y(n2.public_location),
         n2.obscured));
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
        ("maps", "0006_tilecell_kind"),
    ]

    operations = [
        migrations.RunSQL(LOCK_SQL + JOURNAL_FUNCTIONS_SQL + WITHDRAW_OBSCURED_SQL,
                          LOCK_SQL + journal_v2.JOURNAL_FUNCTIONS_SQL + RESTORE_OBSCURED_SQL),
    ]

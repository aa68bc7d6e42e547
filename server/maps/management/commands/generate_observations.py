"""Generate many realistic synthetic observations (for benchmarks), in SQL.

Each synthetic observation copies a random real one (the demo import must be loaded first): same
species most of the time, a position scattered around the real locality (a few km, heavier tail),
the same season in a random recent year with the time of day jittered by up to an hour, grades
and confidences drawn like the app's, ``source='app'``. Sensitive species get an obscured public
position (a seeded point inside their 0.2° cell). Refuses to write into the default database.
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from server.maps import generation, refresh
from server.maps.summary import SUMMARY_TABLES
from server.observations.public_reads import Source, has_observations_from
from server.observations.sql_relations import observation_rows, observation_table
from server.species.sql_relations import species_rows

DEFAULT_DB_NAME = "dawnchorus"

# The columns insert_sql() writes, in the order of its SELECT list.
INSERT_COLUMNS = """species_id, location, public_location, obscured, coordinate_uncertainty_m, georeference_remarks,
   locality, observed_at, date_precision, confidence, status, sound_type, source, source_id, source_url, recordist,
   license, kind_conflict, answers, created_at"""


def insert_sql() -> str:
    """One batch of synthetic observations (params ``start``, ``stop``, ``tag``, ``source``), composed from the
    relations the observations and species apps publish."""
    observations, species = observation_rows(), species_rows()
    return f"""
WITH base AS (
  SELECT row_number() OVER (ORDER BY o.id) AS k, o.species_id, ST_X(o.location) AS lng, ST_Y(o.location) AS lat,
         o.observed_at, o.sound_type, o.recordist, o.license, s.sensitive
  FROM {observations} o JOIN {species} s ON s.id = o.species_id
  WHERE o.source = 'xeno-canto'
),
n AS (SELECT count(*) AS total FROM base),
draws AS (
  SELECT g AS i, 1 + floor(random() * n.total)::int AS k, random() AS r_species, random() AS r_grade,
         random() AS r_conf, sqrt(-2 * ln(greatest(random(), 1e-12))) * 0.02 AS radius, 2 * pi() * random() AS angle,
         floor(random() * 10)::int AS year_shift, (random() - 0.5) * 7200 AS dt_s
  FROM generate_series(%(start)s, %(stop)s - 1) AS g CROSS JOIN n
),
rows AS (
  SELECT d.i, CASE WHEN d.r_species < 0.9 THEN b.species_id
                   ELSE (SELECT species_id FROM base b2 WHERE b2.k = 1 + (d.i::bigint * 7919) %% (SELECT total FROM n)) END AS species_id,
         least(greatest(b.lng + d.radius * cos(d.angle), -180), 180) AS lng,
         least(greatest(b.lat + d.radius * sin(d.angle), -85), 85) AS lat,
         make_timestamptz(2016 + d.year_shift, extract(month FROM b.observed_at)::int,
                          least(extract(day FROM b.observed_at)::int, 28), extract(hour FROM b.observed_at)::int,
                          extract(minute FROM b.observed_at)::int, 0, 'UTC') + d.dt_s * interval '1 second' AS observed_at,
         CASE WHEN d.r_grade < 0.25 THEN 'research' WHEN d.r_grade < 0.85 THEN 'needs_id' ELSE 'casual' END AS status,
         round((0.15 + 0.85 * sqrt(d.r_conf))::numeric, 3)::float AS confidence,
         b.sound_type, b.recordist, b.license
  FROM draws d JOIN base b ON b.k = d.k
)
INSERT INTO {observation_table()}
  ({INSERT_COLUMNS})
SELECT r.species_id, ST_SetSRID(ST_MakePoint(r.lng, r.lat), 4326),
       CASE WHEN s.sensitive THEN ST_SetSRID(ST_MakePoint(
              floor(r.lng / 0.2) * 0.2 + 0.2 * ('x' || substr(md5('lng' || %(tag)s || r.i), 1, 8))::bit(32)::bigint / 4294967296.0,
              floor(r.lat / 0.2) * 0.2 + 0.2 * ('x' || substr(md5('lat' || %(tag)s || r.i), 1, 8))::bit(32)::bigint / 4294967296.0),
              4326)
            ELSE ST_SetSRID(ST_MakePoint(r.lng, r.lat), 4326) END,
       s.sensitive, 10 + 40 * random(), 'synthetic (benchmark)', '', r.observed_at, 'second', r.confidence, r.status,
       r.sound_type, %(source)s, '', '', r.recordist, r.license, false, '{{}}'::jsonb, now()
FROM rows r JOIN {species} s ON s.id = r.species_id
"""


class Command(BaseCommand):
    help = "Generate N realistic synthetic observations around the demo localities (benchmarks only)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1_000_000)
        parser.add_argument("--batch", type=int, default=100_000)
        parser.add_argument("--seed", type=float, default=0.42, help="PostgreSQL setseed() value in [-1, 1]")
        parser.add_argument("--tag", default="bench", help="mixed into the obscuring seed")
        parser.add_argument("--allow-default-db", action="store_true")

    def handle(self, *args, count: int, batch: int, seed: float, tag: str, allow_default_db: bool, **opts):
        name = connection.settings_dict["NAME"]
        if name == DEFAULT_DB_NAME and not allow_default_db:
            raise CommandError(f"refusing to fill the default database {name!r}; point DATABASE_URL at a "
                               "benchmark database (or pass --allow-default-db)")
        if not -1 <= seed <= 1 or count < 1 or batch < 1:
            raise CommandError("need 1 <= count, 1 <= batch and -1 <= seed <= 1")
        if not has_observations_from(Source.XENO_CANTO):
            raise CommandError("no demo observations to copy; run load_species and load_demo first")
        started = time.perf_counter()
        done = 0
        with connection.cursor() as cur:
            cur.execute("SELECT setseed(%s)", [seed])
            sql = insert_sql()
            while done < count:
                stop = min(done + batch, count)
                with transaction.atomic():
                    cur.execute(sql, {"start": done, "stop": stop, "tag": tag, "source": Source.APP})
                refresh.drain()  # fold the batch's journal rows into the map summary now
                done = stop
                self.stdout.write(f"{done}/{count} observations ({time.perf_counter() - started:.0f} s)")
            # the refreshes rewrite summary rows batch after batch: reclaim the dead ones now (autovacuum would,
            # later, where it runs), so the first tile reads do not wade through them (docs/performance.md)
            cur.execute(f"VACUUM ANALYZE {observation_table()}, {', '.join(SUMMARY_TABLES)}")
        generation.bump()
        self.stdout.write(self.style.SUCCESS(f"generated {count} observations in {time.perf_counter() - started:.1f} s"))

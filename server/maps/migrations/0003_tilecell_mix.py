"""Finished clusters per cell (``maps_tilecell_mix``): the unfiltered map reads one row per cluster."""
from importlib import import_module

from django.db import migrations

initial = import_module("server.maps.migrations.0002_tilecell_summary")

# Frozen SQL: the text this migration ran when it was written. Never edit it; change the schema in a new migration.

CELL_TABLE_SQL = """
CREATE TABLE maps_tilecell_mix (
  level smallint NOT NULL, tx integer NOT NULL, ty integer NOT NULL, cx integer NOT NULL, cy integer NOT NULL,
  n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL,
  species_count integer NOT NULL, species text NOT NULL, mix text NOT NULL,
  PRIMARY KEY (level, tx, ty, cx, cy)
);
"""

DROP_CELL_TABLE_SQL = "DROP TABLE IF EXISTS maps_tilecell_mix"

FILL_CELLS_SQL = """TRUNCATE maps_tilecell_mix;
INSERT INTO maps_tilecell_mix (level, tx, ty, cx, cy, n, sx, sy, species_count, species, mix)

SELECT c.level, c.cx >> 5 AS tx, c.cy >> 5 AS ty, c.cx, c.cy, c.n, c.sx, c.sy, c.species_count,
       c.labels[1] AS species,
       (SELECT json_agg(json_build_array(t.label, t.n) ORDER BY t.ord)::text
          FROM unnest(c.labels, c.top_n) WITH ORDINALITY AS t(label, n, ord)) AS mix
FROM (
  SELECT s.level, s.cx, s.cy, sum(s.n)::int AS n, sum(s.sx) AS sx, sum(s.sy) AS sy, count(*)::int AS species_count,
         (array_agg(sp.label ORDER BY s.n DESC, s.species_id))[1:5] AS labels,
         (array_agg(s.n ORDER BY s.n DESC, s.species_id))[1:5] AS top_n
  FROM maps_tilecell_species s JOIN species_species sp ON sp.id = s.species_id WHERE TRUE GROUP BY s.level, s.cx, s.cy
) c;
ANALYZE maps_tilecell_mix;"""


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0002_tilecell_summary"),
    ]

    operations = [
        migrations.RunSQL(CELL_TABLE_SQL, DROP_CELL_TABLE_SQL),
        # Going back drops the triggers (0002 with its triggers again: migrate maps 0001, then forwards).
        migrations.RunSQL(initial.DROP_TRIGGERS_SQL + initial.INLINE_FUNCTIONS_SQL + "\n" + initial.TRIGGERS_SQL,
                          initial.DROP_TRIGGERS_SQL),
        migrations.RunSQL(FILL_CELLS_SQL, migrations.RunSQL.noop),
    ]

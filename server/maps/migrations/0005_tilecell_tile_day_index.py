"""A (tile, day) index on ``maps_tilecell``: a date-filtered cluster tile reads its tile's rows in the range only."""
from django.db import migrations

# Frozen SQL: the text this migration ran when it was written. Never edit it; change the schema in a new migration.

TILE_DAY_INDEX_SQL = "CREATE INDEX maps_tilecell_tile_day ON maps_tilecell (level, (cx >> 5), (cy >> 5), day); ANALYZE maps_tilecell"

DROP_TILE_DAY_INDEX_SQL = "DROP INDEX IF EXISTS maps_tilecell_tile_day"


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0004_tilecell_journal"),
    ]

    operations = [
        migrations.RunSQL(TILE_DAY_INDEX_SQL, DROP_TILE_DAY_INDEX_SQL),
    ]

"""A (tile, day) index on ``maps_tilecell``: a date-filtered cluster tile reads its tile's rows in the range only."""
from django.db import migrations

from server.maps import summary


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0004_tilecell_journal"),
    ]

    operations = [
        migrations.RunSQL(summary.CREATE_TILE_DAY_INDEX_SQL, summary.DROP_TILE_DAY_INDEX_SQL),
    ]

"""Finished clusters per cell (``maps_tilecell_mix``): the unfiltered map reads one row per cluster."""
from django.db import migrations

from server.maps import summary


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0002_tilecell_summary"),
    ]

    operations = [
        migrations.RunSQL(summary.CREATE_CELL_TABLE_SQL, summary.DROP_CELL_TABLE_SQL),
        # Going back drops the triggers (0002 with its triggers again: migrate maps 0001, then forwards).
        migrations.RunSQL(summary.DROP_TRIGGERS_SQL + summary.inline_trigger_sql(), summary.DROP_TRIGGERS_SQL),
        migrations.RunSQL(summary.fill_cells_sql(), migrations.RunSQL.noop),
    ]

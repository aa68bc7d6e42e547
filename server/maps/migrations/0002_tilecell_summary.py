"""The pre-aggregated cluster-cell tables, their triggers, and a first fill from existing observations."""
from django.db import migrations

from server.maps import summary


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0001_initial"),
        ("observations", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(summary.CREATE_TABLE_SQL, summary.DROP_TABLE_SQL),
        # The functions' bodies also write maps_tilecell_mix (0003); plpgsql resolves tables when it runs.
        migrations.RunSQL(summary.inline_trigger_sql(), summary.DROP_TRIGGERS_SQL),
        migrations.RunSQL(summary.rebuild_sql(with_cells=False), migrations.RunSQL.noop),
    ]

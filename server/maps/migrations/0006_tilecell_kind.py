"""``maps_tilecell_kind``: (cell, species, grade, type) counts for grade and type filters without dates."""
from django.db import migrations

from server.maps import journal, summary

LOCK = f"SELECT pg_advisory_xact_lock({summary.REFRESH_LOCK});"  # no refresh folds rows in while the table fills


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0005_tilecell_tile_day_index"),
    ]

    operations = [
        migrations.RunSQL(LOCK + summary.CREATE_KIND_TABLE_SQL + summary.fill_kinds_sql(),
                          summary.DROP_KIND_TABLE_SQL),
        migrations.RunSQL(journal.refresh_function_sql() + journal.journal_functions_sql(),
                          journal.refresh_function_sql(kinds=False) + journal.journal_functions_sql(kinds=False)),
    ]

"""The summary journal: triggers append to ``maps_tilecell_pending``; a refresh (Celery) folds it in."""
from django.db import migrations

from server.maps import journal


class Migration(migrations.Migration):

    dependencies = [
        ("maps", "0003_tilecell_mix"),
    ]

    operations = [
        migrations.RunSQL(journal.CREATE_PENDING_SQL, journal.DROP_PENDING_SQL),
        migrations.RunSQL(journal.refresh_function_sql(kinds=False), journal.DROP_REFRESH_FUNCTION_SQL),
        # Same triggers, new function bodies; going back drains the journal, then restores the inline ones.
        migrations.RunSQL(journal.journal_functions_sql(kinds=False), journal.RESTORE_INLINE_SQL),
    ]

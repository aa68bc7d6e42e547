"""Drop DRF's ``authtoken_token`` table: it held API tokens in plain text.

API tokens are now django-rest-knox tokens, stored as digests (server/accounts/tokens.py). A
digest cannot be made from the old rows without keeping their keys, so the old tokens simply stop
working and clients sign in again. Irreversible by design: the reverse step restores nothing.
"""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql=["DROP TABLE IF EXISTS authtoken_token CASCADE",
                 "DELETE FROM django_migrations WHERE app = 'authtoken'"],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]

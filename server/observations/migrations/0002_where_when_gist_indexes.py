"""The positions are indexed together with ``observed_at`` (GiST, btree_gist) instead of alone: a tile or
bbox with a date range is one index scan instead of a position bitmap ANDed with one of every observation
in the range."""

import django.contrib.gis.db.models.fields
import django.contrib.postgres.indexes
from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('observations', '0001_initial'),
    ]

    operations = [
        BtreeGistExtension(),  # a GiST index on a timestamp column
        migrations.AlterField(
            model_name='observation',
            name='location',
            field=django.contrib.gis.db.models.fields.PointField(spatial_index=False, srid=4326),
        ),
        migrations.AlterField(
            model_name='observation',
            name='public_location',
            field=django.contrib.gis.db.models.fields.PointField(help_text='What the public sees (obscured if sensitive).', spatial_index=False, srid=4326),
        ),
        migrations.AddIndex(
            model_name='observation',
            index=django.contrib.postgres.indexes.GistIndex(fields=['public_location', 'observed_at'], name='observation_public_where_when'),
        ),
        migrations.AddIndex(
            model_name='observation',
            index=django.contrib.postgres.indexes.GistIndex(fields=['location', 'observed_at'], name='observation_where_when'),
        ),
    ]

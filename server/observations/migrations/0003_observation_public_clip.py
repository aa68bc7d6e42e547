"""The public clip of an observation is named by a random token (``public_clips.py``); null: no clip."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('observations', '0002_where_when_gist_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='observation',
            name='public_clip_token',
            field=models.CharField(blank=True, help_text='Random token naming the public clip (public_clips.py); null when there is none.', max_length=64, null=True, unique=True),
        ),
    ]

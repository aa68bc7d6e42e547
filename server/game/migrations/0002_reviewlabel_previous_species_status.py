"""A review label keeps the species and grade it replaced (a label now sets them)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('game', '0001_initial'),
        ('species', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='reviewlabel',
            name='previous_species',
            field=models.ForeignKey(blank=True, help_text="The observation's species before this label.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='species.species'),
        ),
        migrations.AddField(
            model_name='reviewlabel',
            name='previous_status',
            field=models.CharField(blank=True, help_text="The observation's grade before this label.", max_length=16),
        ),
    ]

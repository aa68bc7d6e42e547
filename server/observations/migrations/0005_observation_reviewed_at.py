"""When a reviewer's label set the observation's species (null: never reviewed); export_training_set reads it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('observations', '0004_observation_kind_conflict_answers'),
    ]

    operations = [
        migrations.AddField(
            model_name='observation',
            name='reviewed_at',
            field=models.DateTimeField(blank=True, help_text="When a reviewer's label (direct or propagated) set the species.", null=True),
        ),
    ]

"""An observation keeps the identifications analysis weighed (the claim and the model's answer) and
whether they disagree about the kind of sound (a bird claimed, a city sound heard, or the reverse)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('observations', '0003_observation_public_clip'),
    ]

    operations = [
        migrations.AddField(
            model_name='observation',
            name='kind_conflict',
            field=models.BooleanField(default=False, help_text="The claim and the model's answer are of different kinds (a bird and a city sound); the observation keeps the claim and needs an identification."),
        ),
        migrations.AddField(
            model_name='observation',
            name='answers',
            field=models.JSONField(blank=True, default=dict, help_text="The identifications analysis weighed: {'claim': {...}, 'model': {...}}, each with label, kind, confidence and model_version (see server/recordings/decision.py)."),
        ),
    ]

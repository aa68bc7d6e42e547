"""Issue 25: one model set, ``field``. ``birds`` rows become ``field`` rows (the birds set's current
model stays current); ``urban`` rows become ``field`` rows that are not current (history kept).
Reverse: ``field`` → ``birds`` (the former urban rows cannot be told apart any more)."""
from django.db import migrations, models

# old set -> (new set, whether the old set's current model stays current)
FORWARD = {"birds": ("field", True), "urban": ("field", False)}
REVERSE = {"field": ("birds", True)}


def remap(rows, mapping: dict[str, tuple[str, bool]]) -> None:
    """Move ``rows`` (a ModelVersion manager or queryset) between sets as ``mapping`` says.

    Demotions run first, so the one-current-model-per-set constraint holds after every update.
    """
    for old, (new, keeps_current) in sorted(mapping.items(), key=lambda item: item[1][1]):
        changes = {"model_set": new} if keeps_current else {"model_set": new, "is_current": False}
        rows.filter(model_set=old).update(**changes)


def forward(apps, schema_editor):
    remap(apps.get_model("modelregistry", "ModelVersion").objects, FORWARD)


def reverse(apps, schema_editor):
    remap(apps.get_model("modelregistry", "ModelVersion").objects, REVERSE)


class Migration(migrations.Migration):

    dependencies = [
        ('modelregistry', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
        migrations.AlterField(
            model_name='modelversion',
            name='model_set',
            field=models.CharField(choices=[('field', 'Field model: birds, city sounds, no target')], db_index=True,
                                   default='field', max_length=16),
        ),
    ]

"""Issue 25: one model set, ``field``. The urban set's server state (optimiser and privacy ledger of
a retired set) is deleted and the birds set's becomes the field set's. Schedules lose their
``model_set`` (a round runs on the current field model); a schedule of the urban set is disabled
first. Reverse: the state row ``field`` → ``birds``, schedules come back as birds schedules (still
disabled where they were)."""
from django.db import migrations


def state_set_forward(model_set: str) -> str | None:
    """The ``ServerState.model_set`` a row of ``model_set`` becomes; ``None``: the row is deleted."""
    return {"birds": "field", "field": "field"}.get(model_set)


def forward(apps, schema_editor):
    ServerState = apps.get_model("federated", "ServerState")
    for row in ServerState.objects.all():
        new = state_set_forward(row.model_set)
        if new is None:
            row.delete()
        elif new != row.model_set:
            ServerState.objects.filter(pk=row.pk).update(model_set=new)
    apps.get_model("federated", "RoundSchedule").objects.exclude(model_set__in=("birds", "field")) \
        .update(enabled=False)


def reverse(apps, schema_editor):
    apps.get_model("federated", "ServerState").objects.filter(model_set="field").update(model_set="birds")


class Migration(migrations.Migration):

    dependencies = [
        ('federated', '0002_secure_aggregation'),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
        migrations.RemoveField(
            model_name='roundschedule',
            name='model_set',
        ),
    ]

"""Fix the kinds and ranks of rows written before ranks existed (the demo import made every unknown
taxon a bird): city-sound classes are not taxa, xeno-canto's "Soundscape" (*Sonus naturalis*) is a
soundscape without a scientific name, its "Identity unknown" (*Mystery mystery*) is an unidentified animal
(kingdom Animalia), and the Puerto Rican frogs (*Eleutherodactylus*, *Leptodactylus*) are amphibians.
Parents are set by ``manage.py load_species`` from fixtures/species.json.
"""
from django.db import migrations
from django.db.models import Q

FROG_GENERA = ("Eleutherodactylus", "Leptodactylus")


def forwards(apps, schema_editor):
    Species = apps.get_model("species", "Species")
    Species.objects.filter(kind="urban").update(rank="sound_class", parent=None)
    Species.objects.filter(Q(label="Soundscape") | Q(scientific_name__iexact="Sonus naturalis")).update(
        rank="soundscape", kind="other", scientific_name="", parent=None, identifiable=False)
    Species.objects.filter(Q(label="Identity unknown") | Q(scientific_name__iexact="Mystery mystery")).update(
        rank="kingdom", kind="other", scientific_name="Animalia", common_name="Unidentified animal",
        identifiable=False)
    frogs = Q()
    for genus in FROG_GENERA:
        frogs |= Q(scientific_name__istartswith=f"{genus} ") | Q(scientific_name__iexact=genus)
    Species.objects.filter(frogs).update(kind="amphibian")


class Migration(migrations.Migration):

    dependencies = [
        ("species", "0002_rank_parent_amphibian"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]

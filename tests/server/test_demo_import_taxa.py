"""The demo import files every xeno-canto taxon in the catalogue's tree with the right kind and rank."""
from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps

from server.observations.demo_import import FIXTURE_OBSERVATIONS, import_observations
from server.observations.models import Observation
from server.species.models import Species

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(catalogue):
    import_observations(FIXTURE_OBSERVATIONS)


def test_frogs_are_amphibians_and_unknowns_are_not_species(demo):
    frogs = Species.objects.filter(observations__isnull=False, scientific_name__regex=r"^(Eleuthero|Lepto)dactylus ")
    assert frogs.distinct().count() == 5 and set(frogs.values_list("kind", flat=True)) == {"amphibian"}
    mystery = Observation.objects.filter(species__label="Identity unknown")
    assert mystery.count() == 7 and {o.species.rank for o in mystery} == {"kingdom"}
    assert {o.status for o in mystery} == {"needs_id"}
    soundscapes = Observation.objects.filter(species__label="Soundscape")
    assert soundscapes.count() == 2 and {o.status for o in soundscapes} == {"casual"}
    assert not Species.objects.filter(scientific_name__in=["Mystery mystery", "Sonus naturalis"]).exists()
    assert not Species.objects.filter(label__in=["Mystery mystery", "Sonus naturalis"]).exists()


def test_uncatalogued_taxa_join_under_their_genus_or_unknown_bird(demo):
    yellow = Species.objects.get(scientific_name="Setophaga petechia")
    assert (yellow.parent.label, yellow.kind, yellow.rank, yellow.identifiable) == ("Setophaga", "bird", "species",
                                                                                     False)
    duck = Species.objects.get(scientific_name="Dendrocygna arborea")
    assert (duck.parent.label, duck.kind) == ("Unknown bird", "bird")
    assert not Species.objects.filter(source="xeno-canto", parent__isnull=True).exists()


def test_species_list_leaves_out_non_species(demo):
    from .conftest import client_for
    client = client_for(None)
    listed = {row["label"] for row in client.get("/api/v1/species/?page_size=1000").json()["results"]}
    assert "Identity unknown" not in listed and "Soundscape" not in listed and "Puerto Rican Coqui" in listed


def test_data_migration_fixes_rows_an_old_import_wrote(db):
    """Rows as the import made them before ranks (every unknown taxon a bird species) are put right."""
    Species.objects.create(label="Identity unknown", common_name="Identity unknown", scientific_name="Mystery mystery",
                           kind="bird", identifiable=False, source="xeno-canto")
    Species.objects.create(label="Soundscape", common_name="Soundscape", scientific_name="Sonus naturalis",
                           kind="bird", identifiable=False, source="xeno-canto")
    Species.objects.create(label="Puerto Rican Coqui", common_name="Puerto Rican Coqui",
                           scientific_name="Eleutherodactylus coqui", kind="bird", identifiable=False)
    Species.objects.create(label="siren", common_name="Siren", kind="urban")
    migration = importlib.import_module("server.species.migrations.0003_taxon_kinds_fixed")
    migration.forwards(apps, None)
    rows = {s.label: s for s in Species.objects.all()}
    assert (rows["Identity unknown"].rank, rows["Identity unknown"].scientific_name) == ("kingdom", "Animalia")
    assert (rows["Soundscape"].rank, rows["Soundscape"].scientific_name, rows["Soundscape"].kind) == (
        "soundscape", "", "other")
    assert rows["Puerto Rican Coqui"].kind == "amphibian" and rows["siren"].rank == "sound_class"


def test_map_filter_entries_carry_rank_and_leave_out_soundscapes(demo):
    from server.maps import generation

    from .conftest import client_for
    # the import's transaction never commits in a test, so the on-commit bump that keys the map config's cached
    # summary does not run: bump as the commit would, or a summary cached by an earlier test answers
    generation.bump()
    config = client_for(None).get("/api/v1/map/config/").json()["species"]
    by_label = {row["label"]: row for row in config}
    assert "Soundscape" not in by_label
    assert by_label["Identity unknown"]["rank"] == "kingdom"
    assert (by_label["Puerto Rican Coqui"]["kind"], by_label["Puerto Rican Coqui"]["rank"]) == ("amphibian", "species")


def test_quest_picker_offers_species_and_city_sounds_only(demo, admin_user):
    from django.test import Client
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/game/quest/add/")
    assert page.status_code == 200
    options = set(re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', page.content.decode()))
    assert {"Bananaquit", "Puerto Rican Coqui", "Siren"} <= options
    assert not options & {"Soundscape", "Unidentified animal", "Unknown bird", "Setophaga warblers"}

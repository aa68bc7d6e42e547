"""The species catalogue: loaded from fixtures, readable by all, editable by admins."""
from __future__ import annotations

import json

import pytest

from server.species.catalogue import CatalogueError, load_catalogue
from server.species.models import Species

from .conftest import client_for

pytestmark = pytest.mark.django_db
SENSITIVE = {"Puerto Rican Amazon", "Elfin Woods Warbler", "Yellow-shouldered Blackbird"}


def test_catalogue_has_birds_and_urban_classes(catalogue):
    birds = Species.objects.filter(kind="bird", rank="species")
    assert birds.count() == 22 and all(sp.identifiable for sp in birds)
    assert Species.objects.filter(kind="urban", rank="sound_class").count() == 10
    assert Species.objects.filter(kind="urban").count() == 10
    assert set(Species.objects.filter(sensitive=True).values_list("label", flat=True)) == SENSITIVE
    for sp in birds:
        assert sp.scientific_name and sp.description and sp.band_low_hz < sp.band_high_hz


def test_catalogue_ranks_kinds_and_tree(catalogue):
    frogs = Species.objects.filter(scientific_name__startswith="Eleutherodactylus ")
    assert frogs.count() == 4 and set(frogs.values_list("kind", flat=True)) == {"amphibian"}
    assert Species.objects.get(label="Antillean White-lipped Frog").kind == "amphibian"
    unknown = Species.objects.get(label="Identity unknown")
    assert (unknown.rank, unknown.scientific_name, unknown.kind) == ("kingdom", "Animalia", "other")
    soundscape = Species.objects.get(label="Soundscape")
    assert (soundscape.rank, soundscape.scientific_name, soundscape.parent) == ("soundscape", "", None)
    bird = Species.objects.get(label="Unknown bird")
    assert (bird.rank, bird.scientific_name, bird.parent.label) == ("class", "Aves", "Identity unknown")
    warbler = Species.objects.get(label="Elfin Woods Warbler")
    assert (warbler.parent.label, warbler.parent.rank, warbler.parent.parent.label) == ("Setophaga", "genus",
                                                                                          "Parulidae")
    # only species and city-sound classes may be claimed on upload
    assert not Species.objects.filter(identifiable=True).exclude(rank__in=["species", "sound_class"]).exists()
    assert not Species.objects.filter(rank__in=["sound_class", "soundscape"]).exclude(scientific_name="").exists()


def test_reloading_updates_in_place(catalogue):
    n = Species.objects.count()
    assert load_catalogue() == (0, n)
    assert Species.objects.count() == n


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"label": "x"}),
    json.dumps([{"label": "Ok", "kind": "bird", "common_name": "Ok"}, {"label": "", "kind": "bird"}]),
    json.dumps([{"label": "X", "kind": "dragon", "common_name": "X"}]),
    json.dumps([{"label": "X", "kind": "bird", "common_name": "X", "band_hz": [5000, 100]}]),
    json.dumps([{"label": "X", "kind": "bird", "common_name": "X", "rank": "subspecies"}]),
    json.dumps([{"label": "X", "kind": "bird", "common_name": "X", "parent": "Nowhere"}]),
    json.dumps([{"label": "G", "kind": "bird", "common_name": "G", "rank": "genus", "scientific_name": "G"},
                {"label": "F", "kind": "bird", "common_name": "F", "rank": "family", "scientific_name": "F",
                 "parent": "G"}]),
    json.dumps([{"label": "X", "kind": "urban", "common_name": "X", "rank": "sound_class", "scientific_name": "Y"}]),
    json.dumps([{"label": "X", "kind": "bird", "common_name": "X"}, {"label": "X", "kind": "bird", "common_name": "Z"}]),
    json.dumps([{"label": "X", "kind": "bird", "common_name": "X", "identifiable": "yes"}]),
])
def test_bad_catalogue_files_change_nothing(tmp_path, content):
    path = tmp_path / "species.json"
    path.write_text(content)
    with pytest.raises(CatalogueError):
        load_catalogue(path)
    assert Species.objects.count() == 0


def test_species_api_read_public_write_admin(catalogue, player, admin_user):
    anon = client_for(None).get("/api/v1/species/?kind=urban")
    assert anon.status_code == 200 and anon.json()["count"] == 10
    new = {"label": "Rock Pigeon", "kind": "bird", "common_name": "Rock Pigeon",
           "scientific_name": "Columba livia", "band_low_hz": 100, "band_high_hz": 1500}
    assert client_for(player).post("/api/v1/species/", new, format="json").status_code == 403
    created = client_for(admin_user).post("/api/v1/species/", new, format="json")
    assert created.status_code == 201
    assert Species.objects.filter(label="Rock Pigeon").exists()


def test_species_list_holds_named_classes_unless_asked(catalogue):
    anon = client_for(None)
    listed = anon.get("/api/v1/species/?page_size=1000").json()["results"]
    labels = {row["label"] for row in listed}
    assert {row["rank"] for row in listed} == {"species", "sound_class"}
    assert "Identity unknown" not in labels and "Soundscape" not in labels and "Setophaga" not in labels
    assert "Bananaquit" in labels and "siren" in labels and "Puerto Rican Coqui" in labels
    genera = anon.get("/api/v1/species/?rank=genus&page_size=1000").json()["results"]
    assert genera and {row["rank"] for row in genera} == {"genus"}
    setophaga = next(row for row in genera if row["label"] == "Setophaga")
    assert setophaga["parent"] == "Parulidae"
    everything = anon.get("/api/v1/species/?rank=any&page_size=1000").json()["count"]
    assert everything == Species.objects.count()
    one = Species.objects.get(label="Soundscape")
    assert anon.get(f"/api/v1/species/{one.pk}/").json()["rank"] == "soundscape"


def test_species_list_refuses_unknown_rank(catalogue):
    response = client_for(None).get("/api/v1/species/?rank=subspecies")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_rank"


@pytest.mark.parametrize("body, code", [
    ({"label": "Pigeons", "kind": "bird", "common_name": "Pigeons", "rank": "sound_class",
      "scientific_name": "Columbidae"}, "not_a_taxon"),
    ({"label": "Rock Pigeon", "kind": "bird", "common_name": "Rock Pigeon", "rank": "genus",
      "scientific_name": "Columba", "parent": "Bananaquit"}, "bad_parent"),
    ({"label": "Rock Pigeon", "kind": "bird", "common_name": "Rock Pigeon", "parent": "No such taxon"}, "invalid"),
])
def test_admin_edits_keep_the_tree(catalogue, admin_user, body, code):
    before = Species.objects.count()
    response = client_for(admin_user).post("/api/v1/species/", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert Species.objects.count() == before


def test_admin_files_a_new_species_under_a_genus(catalogue, admin_user):
    body = {"label": "Cape May Warbler", "kind": "bird", "common_name": "Cape May Warbler",
            "scientific_name": "Setophaga tigrina", "parent": "Setophaga"}
    assert client_for(admin_user).post("/api/v1/species/", body, format="json").status_code == 201
    assert Species.objects.get(label="Cape May Warbler").parent.label == "Setophaga"

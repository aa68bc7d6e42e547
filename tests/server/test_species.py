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
    assert Species.objects.filter(kind="bird").count() == 22
    assert Species.objects.filter(kind="urban").count() == 10
    assert set(Species.objects.filter(sensitive=True).values_list("label", flat=True)) == SENSITIVE
    for sp in Species.objects.filter(kind="bird"):
        assert sp.scientific_name and sp.description and sp.band_low_hz < sp.band_high_hz


def test_reloading_updates_in_place(catalogue):
    assert load_catalogue() == (0, 32)
    assert Species.objects.count() == 32


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"label": "x"}),
    json.dumps([{"label": "Ok", "kind": "bird", "common_name": "Ok"}, {"label": "", "kind": "bird"}]),
    json.dumps([{"label": "X", "kind": "dragon", "common_name": "X"}]),
    json.dumps([{"label": "X", "kind": "bird", "common_name": "X", "band_hz": [5000, 100]}]),
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

"""No export carries an empty scientificName: records of city sounds (no scientific name) are left out."""
from __future__ import annotations

import csv
import io
import zipfile

import pytest

from ..conftest import client_for
from .test_exports import read_tsv

pytestmark = pytest.mark.django_db


def test_city_sounds_are_left_out_of_every_export(make_obs, researcher):
    bird = make_obs("Bananaquit")
    dog = make_obs("dog_bark")
    assert dog.species.scientific_name == "", "precondition: the catalogue names no taxon for a dog bark"
    client = client_for(researcher)
    csv_response = client.get("/api/v1/map/export.csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode())))
    assert [r["occurrenceID"] for r in rows] == [f"dawnchorus:obs:{bird.pk}"]
    assert int(csv_response["X-Record-Count"]) == 1
    features = client.get("/api/v1/map/export.geojson").json()["features"]
    assert [f["properties"]["scientificName"] for f in features] == ["Coereba flaveola"]
    archive = zipfile.ZipFile(io.BytesIO(client.get("/api/v1/map/export.zip").content))
    occ = read_tsv(archive, "occurrence.txt")
    assert [r["occurrenceID"] for r in occ] == [f"dawnchorus:obs:{bird.pk}"] and all(r["scientificName"] for r in occ)

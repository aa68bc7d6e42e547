"""A recording as its owner reads it (``GET /api/v1/recordings/…``) names the record's terms: the licence
chosen at upload, then the observation's current one after a PATCH of its terms, with rating, background
species and notes."""
from __future__ import annotations

import pytest

from .conftest import client_for
from .test_record_terms import CC0, CC_BY, observed, upload

pytestmark = pytest.mark.django_db


def test_the_recording_shows_its_licence_rating_background_and_notes(api, player, catalogue):
    response = upload(api, license="cc0-1.0", rating="c", background_species=["Bananaquit"], notes="two birds")
    rec_id = response.json()["id"]
    before = api.get(f"/api/v1/recordings/{rec_id}/").json()     # received, not analysed yet
    assert (before["license"], before["license_url"], before["rating"]) == ("cc0-1.0", CC0, "C")
    assert before["background_species"] == ["Coereba flaveola"] and before["notes"] == "two birds"

    obs = observed(response)
    patched = client_for(player).patch(f"/api/v1/observations/{obs.pk}/terms/",
                                       {"license": "cc-by-4.0", "rating": "A"}, format="json")
    assert patched.status_code == 200, patched.content
    listed = next(r for r in api.get("/api/v1/recordings/").json()["results"] if r["id"] == rec_id)
    assert (listed["license"], listed["license_url"], listed["rating"]) == ("cc-by-4.0", CC_BY, "A")
    assert listed["background_species"] == ["Coereba flaveola"]


def test_an_upload_without_a_choice_reads_as_cc_by_nc(api, catalogue):
    rec_id = upload(api).json()["id"]
    body = api.get(f"/api/v1/recordings/{rec_id}/").json()
    assert (body["license"], body["rating"], body["background_species"]) == ("cc-by-nc-4.0", "", [])

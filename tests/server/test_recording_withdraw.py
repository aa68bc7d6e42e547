"""The recordist's own changes to an upload (issue 28, the phone's My finds): notes at any time, the
label only before analysis, and withdrawal — off the map with its public clip, out of the list, the
same audio again a duplicate, the same idempotency key refused with recording_withdrawn (410)."""
from __future__ import annotations

from pathlib import Path

import pytest

from server.observations.models import Observation
from server.platform import storage as files
from server.recordings.models import Recording, Status
from server.recordings.tasks import analyse_recording

from .conftest import client_for, metadata, submit

pytestmark = pytest.mark.django_db
WARBLER = (Path(__file__).resolve().parents[2] / "fixtures" / "audio" / "XC173620_adelaides_warbler.ogg").read_bytes()
WARBLER_META = {"segment": {"start_s": 1.0, "end_s": 4.0},
                "identification": {"label": "Adelaide's Warbler", "confidence": 0.8, "model_version": "phone"}}


def upload(api, **overrides) -> str:
    response = submit(api, WARBLER, metadata(**{**WARBLER_META, **overrides}))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_notes_and_label_before_analysis(api, catalogue):
    rec_id = upload(api)
    r = api.patch(f"/api/v1/recordings/{rec_id}/", {"label": "Bananaquit", "notes": "  two birds  "}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["claimed_species"], r.json()["notes"]) == ("Bananaquit", "two birds")
    rec = Recording.objects.get(pk=rec_id)
    assert (rec.claimed_species.label, rec.notes) == ("Bananaquit", "two birds")


def test_notes_written_on_the_phone_arrive_with_the_upload(api, catalogue):
    rec_id = upload(api, notes="edited in the queue before upload")
    assert Recording.objects.get(pk=rec_id).notes == "edited in the queue before upload"
    r = submit(api, WARBLER, metadata(**WARBLER_META, notes=7))
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_notes")


def test_label_is_the_analysis_after_it_but_notes_still_change(api, catalogue):
    rec_id = upload(api)
    analyse_recording(rec_id)
    assert Recording.objects.get(pk=rec_id).status == Status.ACCEPTED
    r = api.patch(f"/api/v1/recordings/{rec_id}/", {"label": "Bananaquit", "notes": "x"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_analysed")
    assert Recording.objects.get(pk=rec_id).notes == ""  # nothing half-written
    r = api.patch(f"/api/v1/recordings/{rec_id}/", {"notes": "heard from the trail"}, format="json")
    assert r.status_code == 200 and r.json()["notes"] == "heard from the trail"


@pytest.mark.parametrize("body, code", [({"label": "Dodo"}, "unknown_species"), ({"notes": "n" * 501}, None),
                                        ({"notes": 5}, None)])
def test_bad_edits_are_refused_whole(api, catalogue, body, code):
    rec_id = upload(api)
    r = api.patch(f"/api/v1/recordings/{rec_id}/", body, format="json")
    assert r.status_code == 400
    if code:
        assert r.json()["error"]["code"] == code
    rec = Recording.objects.get(pk=rec_id)
    assert (rec.claimed_species.label, rec.notes) == ("Adelaide's Warbler", "")


def test_only_the_recordist_changes_or_withdraws(api, catalogue, other_player, researcher):
    rec_id = upload(api)
    for user in (other_player, researcher):
        c = client_for(user)
        assert c.patch(f"/api/v1/recordings/{rec_id}/", {"notes": "mine"}, format="json").status_code == 404
        assert c.post(f"/api/v1/recordings/{rec_id}/withdraw/").status_code == 404
    assert api.post("/api/v1/recordings/not-a-uuid/withdraw/").status_code == 404
    assert client_for(None).post(f"/api/v1/recordings/{rec_id}/withdraw/").status_code in (401, 403)
    assert Recording.objects.get(pk=rec_id).status == Status.RECEIVED


def test_withdraw_takes_it_off_the_map_and_the_list(api, catalogue, django_capture_on_commit_callbacks):
    rec_id = upload(api)
    analyse_recording(rec_id)
    obs = Recording.objects.get(pk=rec_id).observation
    clip = obs.public_clip_token
    assert clip and api.get(f"/api/v1/map/observations/{obs.pk}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/v1/recordings/{rec_id}/withdraw/")
    assert r.status_code == 200, r.content
    assert r.json() == {"id": rec_id, "status": "withdrawn", "observation_removed": obs.pk}
    assert not Observation.objects.filter(pk=obs.pk).exists()
    assert api.get(f"/api/v1/map/observations/{obs.pk}/").status_code == 404
    from server.observations.public_clips import relative_path

    assert not files.exists(relative_path(clip))  # the public clip's file is gone after the commit
    assert rec_id not in [r["id"] for r in api.get("/api/v1/recordings/").json()["results"]]
    assert api.get(f"/api/v1/recordings/{rec_id}/").json()["status"] == "withdrawn"  # what a polling phone sees
    again = api.post(f"/api/v1/recordings/{rec_id}/withdraw/")
    assert again.json()["observation_removed"] is None  # withdrawing twice changes nothing
    r = api.patch(f"/api/v1/recordings/{rec_id}/", {"notes": "x"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (410, "recording_withdrawn")


def test_a_withdrawn_key_is_refused_and_the_same_audio_is_a_duplicate(api, catalogue):
    meta = metadata(**WARBLER_META)
    first = submit(api, WARBLER, meta).json()["id"]
    analyse_recording(first)
    api.post(f"/api/v1/recordings/{first}/withdraw/")
    r = submit(api, WARBLER, meta)  # a phone's queue sending the withdrawn item again
    assert (r.status_code, r.json()["error"]["code"]) == (410, "recording_withdrawn")
    again = upload(api)  # the same audio under a new key: no second observation, no second points
    analyse_recording(again)
    rec = Recording.objects.get(pk=again)
    assert (rec.status, rec.reject_code) == (Status.REJECTED, "duplicate_recording")


def test_withdrawn_before_analysis_is_never_analysed(api, catalogue):
    rec_id = upload(api)
    api.post(f"/api/v1/recordings/{rec_id}/withdraw/")
    analyse_recording(rec_id)  # a worker picking it up late
    rec = Recording.objects.get(pk=rec_id)
    assert rec.status == Status.WITHDRAWN and not Observation.objects.filter(recording_id=rec_id).exists()

"""Kind conflicts: a bird claimed and a city sound heard (or the reverse) becomes needs-ID with both answers."""
from __future__ import annotations

import pytest

from server.game.identifications import started_casual
from server.observations.models import Observation
from server.recordings.decision import Answer, decide, kinds_conflict
from server.recordings.models import Status
from server.recordings.tasks import analyse_recording

from .conftest import client_for, metadata, submit

OWL = Answer("Puerto Rican Owl", "bird", 0.7, "phone-1")
DOG = Answer("dog_bark", "urban", 0.57, "baseline-x")
VIREO = Answer("Puerto Rican Vireo", "bird", 0.9, "baseline-x")


def test_only_bird_against_urban_conflicts():
    assert kinds_conflict("bird", "urban") and kinds_conflict("urban", "bird")
    assert not kinds_conflict("bird", "bird") and not kinds_conflict("urban", "urban")
    assert not kinds_conflict("bird", "") and not kinds_conflict("other", "urban")


def test_a_claimed_bird_heard_as_a_city_sound_keeps_the_claim_and_both_answers():
    d = decide(OWL, DOG, model_unknown=False, claim_score=0.13)
    assert (d.label, d.confidence, d.kind_conflict) == ("Puerto Rican Owl", 0.13, True)
    assert d.answers == {"claim": OWL.to_dict(), "model": DOG.to_dict()}
    assert d.answers["model"] == {"label": "dog_bark", "kind": "urban", "confidence": 0.57,
                                  "model_version": "baseline-x"}


def test_an_unsure_model_or_a_same_kind_answer_is_no_conflict():
    assert not decide(OWL, DOG, model_unknown=True, claim_score=0.1).kind_conflict
    assert not decide(OWL, VIREO, model_unknown=False, claim_score=0.05).kind_conflict
    assert decide(None, DOG, model_unknown=False, claim_score=0.0).label == "dog_bark"   # no claim: the model
    unidentified = decide(None, DOG, model_unknown=True, claim_score=0.0)
    assert unidentified.label is None and unidentified.answers == {"model": DOG.to_dict()}


def test_a_kind_conflict_never_starts_casual_for_weak_evidence():
    assert started_casual(Observation(confidence=0.01, kind_conflict=False, coordinate_uncertainty_m=8))
    assert not started_casual(Observation(confidence=0.01, kind_conflict=True, coordinate_uncertainty_m=8))
    assert started_casual(Observation(confidence=0.9, kind_conflict=True, coordinate_uncertainty_m=5000))


def analysed(client, clip, label: str):
    response = submit(client, clip.data, metadata(
        identification={"label": label, "confidence": 0.7, "model_version": "phone-1"}))
    assert response.status_code == 201, response.content
    rec_id = response.json()["id"]
    analyse_recording(rec_id)
    return rec_id


@pytest.mark.django_db
def test_a_dog_bark_claimed_as_an_owl_is_needs_id_with_both_answers(api, catalogue, clips):
    dog = next(c for c in clips if c.label == "dog_bark")
    rec_id = analysed(api, dog, "Puerto Rican Owl")
    body = api.get(f"/api/v1/recordings/{rec_id}/").json()
    assert body["status"] == Status.ACCEPTED, body
    heard = body["analysis"]["classification"]
    assert heard["label"] == "dog_bark" and not heard["unknown"], "precondition: the model hears the dog"
    obs = body["observation"]
    assert obs["species"] == "Puerto Rican Owl" and obs["status"] == "needs_id" and obs["kind_conflict"] is True
    assert obs["answers"]["claim"] == {"label": "Puerto Rican Owl", "kind": "bird", "confidence": 0.7,
                                       "model_version": "phone-1"}
    model = obs["answers"]["model"]
    assert model["label"] == "dog_bark" and model["kind"] == "urban"
    assert model["confidence"] == pytest.approx(heard["confidence"], abs=1e-4)
    assert model["model_version"] == heard["model_version"]
    assert not Observation.objects.filter(species__label="dog_bark").exists(), "never the other kind"
    feature = client_for(None).get(f"/api/v1/observations/{obs['id']}/").json()
    props = feature["properties"]
    assert props["species"] == "Puerto Rican Owl" and props["status"] == "needs_id"
    assert props["kind_conflict"] is True and props["answers"]["model"] == model
    assert props["answers"]["claim"]["label"] == "Puerto Rican Owl"
    popup = client_for(None).get(f"/api/v1/map/observations/{obs['id']}/").json()
    assert popup["kind_conflict"] is True and popup["answers"]["model"] == model
    listed = client_for(None).get("/api/v1/observations/?source=app").json()["features"]
    assert [f["properties"]["answers"]["model"]["label"] for f in listed] == ["dog_bark"]


@pytest.mark.django_db
def test_a_warbler_claimed_as_a_siren_is_needs_id_too(api, catalogue, clips):
    warbler = next(c for c in clips if c.path.name == "XC173620_adelaides_warbler.ogg")
    rec_id = analysed(api, warbler, "siren")
    obs = Observation.objects.get(recording_id=rec_id)
    assert obs.species.label == "siren" and obs.status == "needs_id" and obs.kind_conflict
    assert obs.answers["model"]["label"] == "Adelaide's Warbler" and obs.answers["model"]["kind"] == "bird"
    assert obs.answers["claim"]["kind"] == "urban"


@pytest.mark.django_db
def test_a_bird_heard_as_that_bird_is_no_conflict_but_keeps_the_answers(api, catalogue, clips):
    warbler = next(c for c in clips if c.path.name == "XC173620_adelaides_warbler.ogg")
    obs = Observation.objects.get(recording_id=analysed(api, warbler, "Adelaide's Warbler"))
    assert not obs.kind_conflict
    assert obs.answers["claim"]["label"] == obs.answers["model"]["label"] == "Adelaide's Warbler"


@pytest.mark.django_db
def test_a_withheld_observation_hides_the_phone_model_version(api, catalogue, clips):
    dog = next(c for c in clips if c.label == "dog_bark")
    obs = Observation.objects.get(recording_id=analysed(api, dog, "Puerto Rican Amazon"))   # sensitive
    assert obs.obscured and obs.kind_conflict
    public = client_for(None).get(f"/api/v1/observations/{obs.pk}/").json()["properties"]["answers"]
    assert "model_version" not in public["claim"] and public["model"]["label"] == "dog_bark"
    popup = client_for(None).get(f"/api/v1/map/observations/{obs.pk}/").json()["answers"]
    assert "model_version" not in popup["claim"] and popup["model"]["label"] == "dog_bark"
    own = api.get(f"/api/v1/observations/{obs.pk}/").json()["properties"]["answers"]
    assert own["claim"]["model_version"] == "phone-1"

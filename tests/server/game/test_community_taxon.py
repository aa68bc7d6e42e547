"""The community taxon becomes the observation's species (as on iNaturalist); identifications can be replaced
and withdrawn, and the whole history is kept and served; votes on one's own observation change nothing."""
from __future__ import annotations

import json

import pytest

from server.game import grades
from server.game.ledger import award
from server.game.models import Identification, PointEvent, QualityVote, SpeciesChange
from server.observations.models import Observation

from ..conftest import client_for, make_user
from .helpers import accept

pytestmark = pytest.mark.django_db


def leveled(username: str):
    user = make_user(username, "player")
    award(user.pk, "quest_step", "test-xp", 60)   # level 2: may identify
    return user


def ids_url(obs) -> str:
    return f"/api/v1/observations/{obs.pk}/identifications/"


def suggest(user, obs, label: str, kind: str = "suggest"):
    return client_for(user).post(ids_url(obs), {"species": label, "kind": kind}, format="json")


def test_observation_taxon_follows_the_community_once_two_identifications_agree():
    assert grades.observation_taxon(["A"]) == "A"
    assert grades.observation_taxon(["A", "B"]) == "A"            # no community taxon: the claim stays
    assert grades.observation_taxon(["A", "B", "B"]) == "A"       # 2/3 is not more than 2/3
    assert grades.observation_taxon(["A", "B", "B", "B"]) == "B"
    assert grades.observation_taxon(["B", "B"]) == "B"
    assert grades.observation_taxon(["A", "B", "B", "B"], expert_label="C") == "C"


def test_the_community_taxon_replaces_the_species_and_a_withdrawal_restores_the_claim(game, player, bird_clips):
    obs = accept(player, bird_clips[0], label="Puerto Rican Owl")
    jay, ibis, kite = leveled("jay"), leveled("ibis"), leveled("kite")
    first = suggest(jay, obs, "Bananaquit").json()      # owl or bananaquit: both are birds
    assert (first["observation_species"], first["grade"]["status"]) == ("Unknown bird", "needs_id")
    second = suggest(ibis, obs, "Bananaquit").json()    # 2 of 3 is not more than 2/3
    assert (second["observation_species"], second["grade"]["status"]) == ("Unknown bird", "needs_id")
    third = suggest(kite, obs, "Bananaquit")
    assert third.status_code == 201, third.content
    assert third.json()["observation_species"] == "Bananaquit"
    assert third.json()["grade"] == {"status": "research", "community_taxon": "Bananaquit", "agreeing": 3,
                                     "identifications": 4}
    obs.refresh_from_db()
    assert (obs.species.label, obs.status, obs.reviewed_at) == ("Bananaquit", "research", None)
    change = SpeciesChange.objects.filter(observation=obs).last()
    assert (change.previous_species.label, change.species.label, change.cause, change.actor) == \
        ("Unknown bird", "Bananaquit", "community", kite)
    assert PointEvent.objects.filter(rule="identification_agreed").count() == 3

    withdrawn = client_for(kite).delete(ids_url(obs))
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["observation_species"] == "Unknown bird"
    client_for(ibis).delete(ids_url(obs))
    assert client_for(jay).delete(ids_url(obs)).json()["observation_species"] == "Puerto Rican Owl"
    obs.refresh_from_db()
    assert (obs.species.label, obs.status) == ("Puerto Rican Owl", "needs_id")
    history = client_for(None).get(ids_url(obs)).json()   # open to everyone
    assert history["observer_claim"]["label"] == "Puerto Rican Owl"
    assert [(r["identifier"], r["current"]) for r in history["results"]] == [("jay", False), ("ibis", False),
                                                                             ("kite", False)]
    assert all(r["withdrawn_at"] for r in history["results"])
    popup = client_for(None).get(f"/api/v1/map/observations/{obs.pk}/").json()
    assert popup["identifications"] == [], "the popup lists only the identifications that count"
    assert [(c["previous_species"], c["species"]) for c in history["species_changes"]] == [
        ("Puerto Rican Owl", "Unknown bird"), ("Unknown bird", "Bananaquit"), ("Bananaquit", "Unknown bird"),
        ("Unknown bird", "Puerto Rican Owl")]
    assert {c["cause"] for c in history["species_changes"]} == {"community"}
    assert history["viewer"] == {"signed_in": False, "own": False, "may_identify": False, "identification": None,
                                 "votes": {}}


def test_a_new_suggestion_replaces_ones_own_and_points_are_earned_once(game, player, bird_clips):
    obs = accept(player, bird_clips[0])
    claim = obs.species.label
    jay = leveled("jay")
    assert suggest(jay, obs, claim, "agree").json()["grade"]["status"] == "research"
    again = suggest(jay, obs, claim, "suggest")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_identified"
    changed = suggest(jay, obs, "Bananaquit")
    assert changed.status_code == 201 and changed.json()["grade"]["status"] == "needs_id"
    assert suggest(jay, obs, claim).json()["grade"]["status"] == "research"
    assert Identification.objects.filter(observation=obs, identifier=jay).count() == 3
    assert Identification.objects.filter(observation=obs, identifier=jay, withdrawn_at__isnull=True).count() == 1
    assert PointEvent.objects.filter(player=jay, rule="identification_agreed").count() == 1, "no farming by flipping"
    mine = client_for(jay).get(ids_url(obs)).json()["viewer"]
    assert (mine["identification"], mine["own"], mine["may_identify"]) == (claim, False, True)


def test_a_sensitive_community_taxon_obscures_the_point(game, player, bird_clips):
    obs = accept(player, bird_clips[0])
    for name in ("jay", "ibis", "kite"):
        suggest(leveled(name), obs, "Puerto Rican Amazon")
    obs.refresh_from_db()
    assert obs.species.label == "Puerto Rican Amazon"
    assert obs.obscured and not obs.public_location.equals(obs.location)


def test_a_review_label_shows_in_the_history(game, player, researcher, bird_clips):
    obs = accept(player, bird_clips[0], label="Puerto Rican Owl")
    client_for(researcher).post("/api/v1/review/labels/", {"observation": obs.pk, "species": "Bananaquit"},
                                format="json")
    history = client_for(player).get(ids_url(obs)).json()
    assert (history["species"]["label"], history["status"]) == ("Bananaquit", "research")
    assert history["review"]["reviewer"] == "dr_ornis" and history["review"]["propagated"] is False
    assert [(c["cause"], c["actor"]) for c in history["species_changes"]] == [("review", "dr_ornis")]
    assert history["viewer"]["own"] is True
    text = json.dumps(history)
    assert "lat" not in history and "observed_at" not in text and player.username not in text.replace(
        '"own"', "")


@pytest.mark.parametrize("path, payload", [
    ("identifications", {"species": "Bananaquit", "kind": "suggest"}),
    ("identifications", {"species": "CLAIM", "kind": "agree"}),
    ("quality", {"metric": "wild", "agrees": False}),
])
def test_voting_on_ones_own_observation_changes_nothing(game, player, bird_clips, path, payload):
    award(player.pk, "quest_step", "test-xp", 60)
    obs = accept(player, bird_clips[0])
    if payload.get("species") == "CLAIM":
        payload = {**payload, "species": obs.species.label}
    before = Observation.objects.values("species_id", "status", "reviewed_at").get(pk=obs.pk)
    response = client_for(player).post(f"/api/v1/observations/{obs.pk}/{path}/", payload, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "own_observation", response.content
    assert Observation.objects.values("species_id", "status", "reviewed_at").get(pk=obs.pk) == before
    assert not Identification.objects.exists() and not QualityVote.objects.exists()
    assert not SpeciesChange.objects.exists()


def test_withdrawing_without_an_identification_is_404_and_changes_nothing(game, player, bird_clips):
    obs = accept(player, bird_clips[0])
    response = client_for(leveled("jay")).delete(ids_url(obs))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client_for(None).delete(ids_url(obs)).status_code == 401
    assert Observation.objects.get(pk=obs.pk).status == obs.status


def test_review_spectrogram_is_for_researchers(game, player, researcher, bird_clips):
    obs = accept(player, bird_clips[0])
    url = f"/api/v1/review/observations/{obs.pk}/spectrogram.png"
    response = client_for(researcher).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client_for(player).get(url).json()["error"]["code"] == "permission_denied"
    assert client_for(researcher).get("/api/v1/review/observations/999999/spectrogram.png").status_code == 404


def test_identifications_at_other_ranks_meet_at_their_common_ancestor(game, player, bird_clips):
    """The catalogue's tree decides: an identification of an ancestor is neutral, two species meet at the
    taxon both belong to, which becomes the observation's taxon without research grade."""
    obs = accept(player, bird_clips[0], label="Adelaide's Warbler")
    jay, ibis, kite = leveled("jay"), leveled("ibis"), leveled("kite")
    genus = suggest(jay, obs, "Setophaga").json()      # the warbler's genus: neutral, support stays 1
    assert (genus["observation_species"], genus["grade"]["status"]) == ("Adelaide's Warbler", "needs_id")
    client_for(jay).delete(ids_url(obs))
    split = suggest(jay, obs, "Bananaquit").json()     # another family: they agree on "a bird"
    assert split["observation_species"] == "Unknown bird" and split["grade"]["status"] == "needs_id"
    assert suggest(ibis, obs, "Adelaide's Warbler").json()["observation_species"] == "Unknown bird"
    settled = suggest(kite, obs, "Adelaide's Warbler").json()   # 3 of 4 name the warbler
    assert (settled["observation_species"], settled["grade"]["status"]) == ("Adelaide's Warbler", "research")
    causes = [(c.previous_species.label, c.species.label) for c in SpeciesChange.objects.filter(observation=obs)]
    assert causes == [("Adelaide's Warbler", "Unknown bird"), ("Unknown bird", "Adelaide's Warbler")]


def test_an_expert_label_above_species_is_not_research_grade(game, player, researcher, bird_clips):
    obs = accept(player, bird_clips[0])
    response = client_for(researcher).post("/api/v1/review/labels/", {"observation": obs.pk,
                                                                      "species": "Unknown bird"}, format="json")
    assert response.status_code == 201 and response.json()["results"][0]["status"] == "needs_id"
    obs.refresh_from_db()
    assert obs.species.label == "Unknown bird" and obs.reviewed_at is not None

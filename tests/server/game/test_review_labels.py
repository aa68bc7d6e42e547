"""A reviewer's label sets the observation's species and grade; refusals change nothing; history stays."""
from __future__ import annotations

import pytest

from server.game import grades
from server.game.identifications import current_grade
from server.game.models import PointEvent, ReviewClusterMember, ReviewLabel
from server.observations.models import Observation

from ..conftest import client_for, make_user
from .helpers import accept

pytestmark = pytest.mark.django_db
URL = "/api/v1/review/labels/"


def test_an_expert_label_is_research_grade_unless_data_quality_fails():
    assert grades.grade(["A"], [], started_casual=True, expert_label="B") == grades.GradeResult("research", "B", 0, 1)
    failed = grades.grade(["A", "B"], [("wild", False), ("wild", False)], False, 2, expert_label="B")
    assert failed.status == "casual"


def test_a_researchers_label_sets_species_and_research_grade(game, player, researcher, bird_clips):
    obs = accept(player, bird_clips[0], label="Puerto Rican Owl", confidence=0.05)   # claimed as an owl, weak
    response = client_for(researcher).post(URL, {"observation": obs.pk, "species": "Bananaquit"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["results"] == [{"observation": obs.pk, "species": "Bananaquit", "propagated": False,
                                           "status": "research", "previous_species": "Puerto Rican Owl",
                                           "previous_status": "needs_id"}]
    obs.refresh_from_db()
    assert obs.species.label == "Bananaquit" and obs.status == "research" and obs.reviewed_at is not None
    row = ReviewLabel.objects.get(observation=obs)
    assert (row.previous_species.label, row.previous_status, row.reviewer) == ("Puerto Rican Owl", "needs_id",
                                                                               researcher)
    assert PointEvent.objects.filter(player=player, rule="research_grade").count() == 1
    public = client_for(None).get(f"/api/v1/observations/{obs.pk}/").json()["properties"]
    assert (public["species"], public["status"]) == ("Bananaquit", "research")
    assert current_grade(obs).status == "research", "a later regrade keeps the expert's grade"


def test_a_label_with_a_sensitive_species_obscures_the_point(game, player, researcher, bird_clips):
    obs = accept(player, bird_clips[0])
    assert not obs.obscured
    client_for(researcher).post(URL, {"observation": obs.pk, "species": "Puerto Rican Amazon"}, format="json")
    obs.refresh_from_db()
    assert obs.obscured and not obs.public_location.equals(obs.location)


def test_a_propagated_label_sets_the_species_but_not_research_grade(game, player, researcher, bird_clips):
    medoid, member = accept(player, bird_clips[0]), accept(player, bird_clips[1], lat=18.31)
    ReviewClusterMember.objects.create(observation=medoid, medoid=medoid, cluster_size=2)
    ReviewClusterMember.objects.create(observation=member, medoid=medoid, cluster_size=2)
    response = client_for(researcher).post(URL, {"observation": medoid.pk, "species": "Bananaquit",
                                                 "propagate": True}, format="json")
    assert [r["status"] for r in response.json()["results"]] == ["research", "needs_id"]
    member.refresh_from_db()
    assert member.species.label == "Bananaquit" and member.status == "needs_id" and member.reviewed_at
    assert ReviewLabel.objects.get(observation=member).previous_species.label == bird_clips[1].label


@pytest.mark.parametrize("who, species, status, code", [
    ("researcher", "Dodo", 400, "unknown_species"),
    ("researcher", "", 400, "invalid"),
    ("player", "Bananaquit", 403, "permission_denied"),
    ("other", "Bananaquit", 403, "permission_denied"),
    ("anonymous", "Bananaquit", 401, "not_authenticated"),
])
def test_refused_labels_change_nothing(game, player, researcher, bird_clips, who, species, status, code):
    obs = accept(player, bird_clips[0])
    before = Observation.objects.values("species_id", "status", "reviewed_at").get(pk=obs.pk)
    user = {"researcher": researcher, "player": player, "other": make_user("jay", "player"),
            "anonymous": None}[who]
    response = client_for(user).post(URL, {"observation": obs.pk, "species": species}, format="json")
    assert response.status_code == status and response.json()["error"]["code"] == code, response.content
    assert Observation.objects.values("species_id", "status", "reviewed_at").get(pk=obs.pk) == before
    assert not ReviewLabel.objects.exists()


def test_a_second_label_is_refused_and_the_first_row_stays(game, player, researcher, bird_clips):
    obs = accept(player, bird_clips[0])
    client = client_for(researcher)
    assert client.post(URL, {"observation": obs.pk, "species": "Bananaquit"}, format="json").status_code == 201
    again = client.post(URL, {"observation": obs.pk, "species": "Puerto Rican Tody"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_reviewed"
    obs.refresh_from_db()
    assert obs.species.label == "Bananaquit"
    assert list(ReviewLabel.objects.values_list("species__label", flat=True)) == ["Bananaquit"]

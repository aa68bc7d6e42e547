"""Community identification, quality grades, and the researchers' medoid review queue."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server.game.ledger import award
from server.game.models import Identification, PointEvent, QualityVote, ReviewLabel
from server.observations.models import Observation
from server.species.models import Species

from ..conftest import client_for, make_user
from .helpers import accept

pytestmark = pytest.mark.django_db


def leveled(username: str, xp: int = 60):
    user = make_user(username, "player")
    award(user.pk, "quest_step", "test-xp", xp)
    return user


def test_identification_reaches_research_grade_and_rewards(game, player, bird_clips):
    obs = accept(player, bird_clips[0])
    ident_by = leveled("ibis")
    api = client_for(ident_by)
    url = f"/api/v1/observations/{obs.pk}/identifications/"
    response = api.post(url, {"species": obs.species.label, "kind": "agree"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["grade"] == {"status": "research", "community_taxon": obs.species.label, "agreeing": 2,
                                        "identifications": 2}
    obs.refresh_from_db()
    assert obs.status == "research"
    assert PointEvent.objects.filter(player=player, rule="research_grade").count() == 1
    assert PointEvent.objects.filter(player=ident_by, rule="identification_agreed").count() == 1
    assert ident_by.badges.filter(badge__slug="first-agreement").exists()
    twice = api.post(url, {"species": obs.species.label, "kind": "agree"}, format="json")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_identified"
    assert Identification.objects.count() == 1
    listing = api.get(url).json()
    assert listing["status"] == "research" and listing["results"][0]["identifier"] == "ibis"


def test_identification_abuse(game, player, bird_clips):
    obs = accept(player, bird_clips[0])
    url = f"/api/v1/observations/{obs.pk}/identifications/"
    own = client_for(player).post(url, {"species": obs.species.label, "kind": "agree"}, format="json")
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_observation"
    beginner = make_user("chick", "player")
    low = client_for(beginner).post(url, {"species": obs.species.label, "kind": "agree"}, format="json")
    assert low.status_code == 403 and low.json()["error"]["code"] == "level_too_low"
    api = client_for(leveled("heron"))
    mismatch = api.post(url, {"species": "Bananaquit", "kind": "agree"}, format="json")
    assert mismatch.json()["error"]["code"] == "agree_mismatch"
    assert api.post(url, {"species": "Dodo", "kind": "suggest"}, format="json").json()["error"]["code"] == \
        "unknown_species"
    assert api.post(url, {"species": "Bananaquit", "kind": "maybe"}, format="json").status_code == 400
    assert api.post("/api/v1/observations/999999/identifications/", {"species": "Bananaquit", "kind": "suggest"},
                    format="json").status_code == 404
    assert not Identification.objects.exists()
    suggest = api.post(url, {"species": "Bananaquit", "kind": "suggest"}, format="json").json()
    assert suggest["grade"]["status"] == "needs_id"


def test_quality_votes_downgrade_only_by_agreement_and_cannot_repeat(game, player, bird_clips, settings):
    """One "no" vote changes nothing; DQA_MIN_VOTES_AGAINST agreeing "no" votes make it casual; "yes" votes restore."""
    settings.DQA_MIN_VOTES_AGAINST = 2
    obs = accept(player, bird_clips[0])
    a, b, c, d = (client_for(leveled(name)) for name in ("gull", "tern", "skua", "auk"))
    a.post(f"/api/v1/observations/{obs.pk}/identifications/", {"species": obs.species.label, "kind": "agree"},
           format="json")
    obs.refresh_from_db()
    assert obs.status == "research"
    url = f"/api/v1/observations/{obs.pk}/quality/"
    vote = b.post(url, {"metric": "wild", "agrees": False}, format="json")
    assert vote.status_code == 201 and vote.json()["grade"]["status"] == "research"
    obs.refresh_from_db()
    assert obs.status == "research"
    again = b.post(url, {"metric": "wild", "agrees": True}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_voted"
    second = c.post(url, {"metric": "wild", "agrees": False}, format="json")
    assert second.status_code == 201 and second.json()["grade"]["status"] == "casual"
    obs.refresh_from_db()
    assert obs.status == "casual"
    a.post(url, {"metric": "wild", "agrees": True}, format="json")
    obs.refresh_from_db()
    assert obs.status == "casual"                      # 2 against 1
    d.post(url, {"metric": "wild", "agrees": True}, format="json")
    obs.refresh_from_db()
    assert obs.status == "research"                    # 2 against 2: no longer more against than for


def test_owner_cannot_vote_on_own_observation(game, player, bird_clips):
    award(player.pk, "quest_step", "test-xp", 60)      # the owner is a level-2 player too
    obs = accept(player, bird_clips[0])
    response = client_for(player).post(f"/api/v1/observations/{obs.pk}/quality/",
                                       {"metric": "wild", "agrees": False}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "own_observation"
    assert not QualityVote.objects.exists()
    obs.refresh_from_db()
    assert obs.status == "needs_id"


def test_owner_votes_stored_earlier_do_not_count(game, player, bird_clips, settings):
    settings.DQA_MIN_VOTES_AGAINST = 2
    obs = accept(player, bird_clips[0])
    QualityVote.objects.create(observation=obs, voter=player, metric="date", agrees=False)
    response = client_for(leveled("kite")).post(f"/api/v1/observations/{obs.pk}/quality/",
                                                {"metric": "date", "agrees": False}, format="json")
    assert response.status_code == 201 and response.json()["grade"]["status"] == "needs_id"


def test_identify_queue_hides_sensitive_true_position(game, player, bird_clips):
    amazon = next(c for c in bird_clips if c.label == "Puerto Rican Amazon")
    obs = accept(player, amazon, lat=18.31234, lng=-65.78765)
    assert obs.obscured
    api = client_for(leveled("hawk"))
    item = next(i for i in api.get("/api/v1/game/identify/").json()["results"] if i["observation"] == obs.pk)
    assert (item["lat"], item["lng"]) == (pytest.approx(obs.public_location.y), pytest.approx(obs.public_location.x))
    assert (item["lat"], item["lng"]) != (pytest.approx(18.31234), pytest.approx(-65.78765))
    assert api.get(item["audio_url"]).status_code == 200


def test_review_queue_serves_medoids_of_largest_clusters_and_propagates(game, player, researcher, bird_clips):
    t = datetime.now(timezone.utc) - timedelta(days=1)
    made = []
    for i, clip in enumerate(bird_clips):
        made.append(accept(player, clip, lat=18.30 + 0.001 * i, when=t + timedelta(minutes=10 * i)))
    assert client_for(player).get("/api/v1/review/queue/").status_code == 403
    body = client_for(researcher).get("/api/v1/review/queue/").json()["results"]
    assert {e["observation"] for e in body} == {o.pk for o in made}
    n = len(made)
    medoids = [e for e in body if e["is_medoid"]]
    assert len(medoids) == max(1, round(n / 3))
    assert body[: len(medoids)] == medoids                               # medoids first
    sizes = [e["cluster_size"] for e in medoids]
    assert sizes == sorted(sizes, reverse=True)                           # largest clusters first
    assert sum(sizes) == n
    for e in body:
        assert e["medoid"] in {m["observation"] for m in medoids}
    others = [e["uncertainty"] for e in body[len(medoids):]]
    assert others == sorted(others, reverse=True)                        # then the most uncertain
    top = medoids[0]
    labelled = client_for(researcher).post("/api/v1/review/labels/", {
        "observation": top["observation"], "species": "Bananaquit", "propagate": True}, format="json")
    assert labelled.status_code == 201
    results = labelled.json()["results"]
    assert len(results) == top["cluster_size"]
    assert [r["propagated"] for r in results] == [False] + [True] * (top["cluster_size"] - 1)
    assert ReviewLabel.objects.filter(propagated=True, propagated_from_id=top["observation"]).count() == \
        top["cluster_size"] - 1
    again = client_for(researcher).post("/api/v1/review/labels/", {
        "observation": top["observation"], "species": "Bananaquit"}, format="json")
    assert again.status_code == 409
    rest = client_for(researcher).get("/api/v1/review/queue/").json()["results"]
    assert len(rest) == n - top["cluster_size"]                           # reviewed ones leave the queue
    assert Observation.objects.count() == n


def test_low_confidence_and_disagreement_rank_as_more_uncertain(game, player, bird_clips):
    from server.game.review import uncertainty

    t = datetime.now(timezone.utc) - timedelta(hours=3)
    sure = accept(player, bird_clips[0], confidence=0.95, when=t)
    unsure = accept(player, bird_clips[0], confidence=0.30, lat=18.301, when=t + timedelta(hours=1))
    disputed = accept(player, bird_clips[0], confidence=0.95, lat=18.302, when=t + timedelta(hours=2))
    Identification.objects.create(observation=disputed, identifier=leveled("crane"),
                                  species=Species.objects.get(label="Bananaquit"), kind="suggest")
    assert uncertainty(unsure) > uncertainty(sure)
    assert uncertainty(Observation.objects.get(pk=disputed.pk)) > uncertainty(sure)

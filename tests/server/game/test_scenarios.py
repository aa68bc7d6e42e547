"""Quiz, treasure hunt, time travel and adopt-a-bird, through the API."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server.game.awards import settle
from server.game.ledger import AwardBatch, award
from server.game.models import Adoption, HuntFind, PointEvent, QuizQuestion, TimeTravel
from server.game.scenarios import adopt

from ..conftest import client_for
from .helpers import accept

pytestmark = pytest.mark.django_db


def with_xp(user, xp: int):
    award(user.pk, "quest_step", "test-xp", xp)
    return user


@pytest.fixture
def library(game, other_player, bird_clips):
    """Recordings of five species by another player (the quiz's material)."""
    seen, out = set(), []
    t = datetime.now(timezone.utc) - timedelta(days=2)
    for i, clip in enumerate(c for c in bird_clips if not (c.label in seen or seen.add(c.label))):
        out.append(accept(other_player, clip, lat=18.30 + 0.001 * i, when=t + timedelta(hours=i)))
        if len(out) == 5:
            break
    return out


def test_quiz_never_leaks_the_answer_scores_once_and_never_repeats(library, player):
    api = client_for(player)
    start = api.post("/api/v1/game/quiz/")
    assert start.status_code == 201
    body = start.json()
    question = body["question"]
    assert len(question["choices"]) == 4 and len(set(question["choices"])) == 4
    assert set(question) == {"id", "audio_url", "choices"}
    stored = QuizQuestion.objects.get(pk=question["id"])
    assert stored.correct_choice in question["choices"]
    assert question["audio_url"].endswith(f"/api/v1/game/quiz/{body['session']}/questions/{question['id']}/audio/")
    audio = api.get(question["audio_url"])
    assert audio.status_code == 200 and b"".join(audio.streaming_content)[:4] == b"OggS"
    answer = api.post(f"/api/v1/game/quiz/{body['session']}/answer/",
                      {"question": question["id"], "choice": stored.correct_choice}, format="json").json()
    assert answer["correct"] is True and answer["points"] == 5 and answer["correct_choice"] == stored.correct_choice
    again = api.post(f"/api/v1/game/quiz/{body['session']}/answer/",
                     {"question": question["id"], "choice": stored.correct_choice}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_answered"
    assert PointEvent.objects.filter(player=player, rule="quiz_answer").count() == 1
    seen = {stored.observation_id}
    nxt = answer["next_question"]
    while nxt is not None:
        q = QuizQuestion.objects.get(pk=nxt["id"])
        assert q.observation_id not in seen
        seen.add(q.observation_id)
        wrong = next(c for c in nxt["choices"] if c != q.correct_choice)
        res = api.post(f"/api/v1/game/quiz/{body['session']}/answer/", {"question": q.pk, "choice": wrong},
                       format="json").json()
        assert res["correct"] is False and res["points"] == 0
        nxt = res["next_question"]
    assert len(seen) == len(library)
    bad = api.post(f"/api/v1/game/quiz/{body['session']}/answer/", {"question": "nope", "choice": "x"}, format="json")
    assert bad.status_code == 404
    other = client_for(library[0].observer).post(f"/api/v1/game/quiz/{body['session']}/answer/",
                                                 {"question": question["id"], "choice": "x"}, format="json")
    assert other.status_code == 404


def test_quiz_needs_material(game, player):
    response = client_for(player).post("/api/v1/game/quiz/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "quiz_unavailable"


def test_hunt_scores_distinct_places_and_shows_others(library, player, bird_clips):
    api = client_for(player)
    assert api.post("/api/v1/game/hunts/", {"species": "Bananaquit"}, format="json").status_code == 403  # level 1
    with_xp(player, 60)
    created = api.post("/api/v1/game/hunts/", {"species": "Bananaquit", "minutes": 30}, format="json")
    assert created.status_code == 201
    hunt_id = created.json()["id"]
    clip = next(c for c in bird_clips if c.label == "Bananaquit")
    now = datetime.now(timezone.utc)
    accept(player, clip, when=now - timedelta(seconds=1))
    accept(player, clip, lat=18.3005, when=now)                                      # 55 m away: too close
    accept(player, clip, lat=18.3050, when=now + timedelta(seconds=2))              # 555 m away: counts
    body = api.get(f"/api/v1/game/hunts/{hunt_id}/").json()
    assert body["score"] == 2 and HuntFind.objects.count() == 2 and body["active"] is True
    assert len(body["others"]) == 1 and body["others"][0]["lat"] == pytest.approx(library[1].public_location.y)
    assert client_for(library[0].observer).get(f"/api/v1/game/hunts/{hunt_id}/").status_code == 404
    assert api.post("/api/v1/game/hunts/", {"species": "Bananaquit"}, format="json").json()["error"]["code"] == \
        "hunt_running"


def test_time_travel_route_radius_and_speed(library, player):
    api = client_for(player)
    with_xp(player, 300)
    label = library[0].species.label
    route = api.get(f"/api/v1/game/timetravel/{label}/").json()
    assert route["total"] == 1 and route["waypoints"][0]["unlocked"] is False
    assert "story" not in route["waypoints"][0]
    wp = route["waypoints"][0]
    far = api.post(f"/api/v1/game/timetravel/{label}/checkin/", {"lat": wp["lat"] + 0.01, "lng": wp["lng"]},
                   format="json")
    assert far.status_code == 409 and far.json()["error"]["code"] == "too_far"
    ok = api.post(f"/api/v1/game/timetravel/{label}/checkin/", {"lat": wp["lat"], "lng": wp["lng"], "accuracy_m": 5},
                  format="json").json()
    assert ok["step"] == 1 and ok["completed"] and ok["unlocked_story"]["observation"] == library[0].pk
    done = api.post(f"/api/v1/game/timetravel/{label}/checkin/", {"lat": wp["lat"], "lng": wp["lng"]}, format="json")
    assert done.json()["error"]["code"] == "route_completed"
    travel = TimeTravel.objects.get(player=player)
    travel.step, travel.waypoints = 0, [library[0].pk, library[1].pk]
    travel.save()
    api.post(f"/api/v1/game/timetravel/{label}/checkin/", {"lat": wp["lat"], "lng": wp["lng"]}, format="json")
    # from the first waypoint to one 1,000 km away a second later: implausible
    travel.refresh_from_db()
    travel.waypoints = [library[0].pk, library[1].pk]
    too_fast = api.post(f"/api/v1/game/timetravel/{label}/checkin/", {"lat": 27.3, "lng": -65.78}, format="json")
    assert too_fast.json()["error"]["code"] == "implausible_speed"


def test_adopt_a_bird_streak_facts_and_badge(game, player, bird_clips):
    api = client_for(player)
    clip = next(c for c in bird_clips if c.label == "Bananaquit")
    first = accept(player, clip)
    assert api.post("/api/v1/game/adoptions/", {"species": "Bananaquit", "lat": 18.3, "lng": -65.78},
                    format="json").status_code == 403
    with_xp(player, 500)
    far = api.post("/api/v1/game/adoptions/", {"species": "Bananaquit", "lat": 10.0, "lng": -60.0}, format="json")
    assert far.json()["error"]["code"] == "species_not_near"
    created = api.post("/api/v1/game/adoptions/", {"species": "Bananaquit", "lat": 18.3, "lng": -65.78}, format="json")
    assert created.status_code == 201
    adoption_id = created.json()["id"]
    res = api.post(f"/api/v1/game/adoptions/{adoption_id}/checkin/", {"observation": first.pk}, format="json").json()
    assert res["streak"] == 1 and res["new_fact"].startswith("The Bananaquit")
    twice = api.post(f"/api/v1/game/adoptions/{adoption_id}/checkin/", {"observation": first.pk}, format="json")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_checked_in"
    # seven consecutive days (service with a fixed clock), one missed day forgiven by the grace rule
    start = datetime.now(timezone.utc) - timedelta(days=30)
    adoption = Adoption.objects.get(pk=adoption_id)
    adoption.last_checkin_day, adoption.streak = None, 0
    adoption.save()
    days = [0, 1, 2, 4, 5, 6, 7]
    for i, d in enumerate(days):
        when = start + timedelta(days=d)
        obs = accept(player, clip, when=when, lat=18.3 + 0.0001 * i)
        batch = AwardBatch()
        result = adopt.checkin(player, adoption_id, obs.pk, batch, now=when + timedelta(hours=1))
        settle(batch)
        assert player.badges.filter(badge__slug="adopt-week").exists() == (i == len(days) - 1)
    assert result["streak"] == 7 and result["grace_used"] is True and len(result["facts"]) == 7

"""What an accepted observation earns: ledger rows, badges, levels, quests, teams, anti-cheat."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from server.game import leaderboards
from server.game.geo import cell_of
from server.game.ledger import total_xp
from server.game.models import PlayerBadge, PlayerFlag, PointEvent, Quest, QuestProgress, Team, TeamMembership

from ..conftest import client_for, make_user
from .helpers import accept, midday

pytestmark = pytest.mark.django_db


def rules_of(player) -> list[str]:
    return sorted(PointEvent.objects.filter(player=player).values_list("rule", flat=True))


def test_first_recording_awards_points_badge_level_and_boards(game, player, bird_clips, django_capture_on_commit_callbacks):
    clip = next(c for c in bird_clips if c.label == "Bananaquit")
    with django_capture_on_commit_callbacks(execute=True):
        obs = accept(player, clip, when=midday())
    assert rules_of(player) == ["new_cell", "new_species", "rare_species", "recording_accepted"]
    assert total_xp(player.pk) == 10 + 25 + 15 + 20
    assert set(PlayerBadge.objects.filter(player=player).values_list("badge__slug", flat=True)) == {
        "first-recording", "rare-find"}
    profile = client_for(player).get("/api/v1/game/profile/").json()
    assert (profile["level"], profile["title"], profile["unlocked_scenarios"]) == (2, "Listener", ["quiz", "hunt"])
    assert leaderboards.scores("alltime") == {player.pk: 70}
    assert leaderboards.scores(f"area-{cell_of(18.30, -65.78)}") == {player.pk: 70}
    assert leaderboards.scores("species-Bananaquit") == {player.pk: 70}
    # the same observation sent again (a redelivered task) changes nothing
    from server.game.consequences import award_accepted
    with django_capture_on_commit_callbacks(execute=True):
        award_accepted(obs)
    assert total_xp(player.pk) == 70 and leaderboards.scores("alltime") == {player.pk: 70}


def test_second_recording_same_species_same_cell_earns_only_the_recording(game, player, bird_clips):
    clip = bird_clips[0]
    accept(player, clip)
    before = total_xp(player.pk)
    accept(player, clip, lat=18.3001)
    assert total_xp(player.pk) - before == 10


def test_dawn_and_night_badges_and_daily_streak(game, player, bird_clips):
    clip = bird_clips[0]
    day = datetime.now(timezone.utc).date() - timedelta(days=1)
    dawn = datetime(day.year, day.month, day.day, 10, 40, tzinfo=timezone.utc)   # ~06:40 local in Puerto Rico
    accept(player, clip, when=dawn - timedelta(days=1))
    accept(player, clip, when=dawn)
    night = datetime(day.year, day.month, day.day, 6, 0, tzinfo=timezone.utc)    # 02:00 local
    accept(player, clip, when=night, lat=18.3002)
    badges = set(PlayerBadge.objects.filter(player=player).values_list("badge__slug", flat=True))
    assert {"dawn-chorus", "night-owl"} <= badges
    assert PointEvent.objects.filter(player=player, rule="daily_streak").count() == 1


def test_explorer_badge_after_five_cells(game, player, bird_clips):
    clip = bird_clips[0]
    for i in range(5):
        accept(player, clip, lat=18.0 + i * 0.1, when=datetime.now(timezone.utc) - timedelta(hours=10 - i))
    assert PointEvent.objects.filter(player=player, rule="new_cell").count() == 5
    assert PlayerBadge.objects.filter(player=player, badge__slug="explorer").exists()


def test_impossible_travel_flags_and_withholds_points(game, player, bird_clips):
    clip = bird_clips[0]
    t = datetime.now(timezone.utc) - timedelta(hours=1)
    accept(player, clip, when=t)
    before = total_xp(player.pk)
    far = accept(player, clip, lat=40.7, lng=-74.0, when=t + timedelta(minutes=10))   # New York 10 min later
    assert PlayerFlag.objects.filter(player=player, reason="impossible_travel", observation=far).exists()
    assert total_xp(player.pk) == before


def square(lng: float, lat: float, d: float = 0.05) -> MultiPolygon:
    return MultiPolygon(Polygon(((lng - d, lat - d), (lng + d, lat - d), (lng + d, lat + d), (lng - d, lat + d),
                                 (lng - d, lat - d))), srid=4326)


def make_quest(mode: str = "solo", target: int = 2, **kw) -> Quest:
    now = datetime.now(timezone.utc)
    defaults = {"slug": f"q-{mode}", "title": f"Quest {mode}", "area": square(-65.78, 18.30),
                "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1), "target_count": target,
                "mode": mode, "reward_points": 40}
    defaults.update(kw)
    return Quest.objects.create(**defaults)


def test_solo_quest_progress_area_and_completion(game, player, bird_clips):
    quest = make_quest()
    clip = bird_clips[0]
    accept(player, clip, lat=10.0, lng=-60.0, when=datetime.now(timezone.utc) - timedelta(days=1, hours=-2))
    assert not QuestProgress.objects.exists()   # outside the polygon
    accept(player, clip)
    accept(player, clip, lat=18.301)
    progress = QuestProgress.objects.get(quest=quest, player=player)
    assert progress.count == 2 and progress.completed_at is not None
    assert PointEvent.objects.filter(player=player, rule="quest_complete").get().amount == 40
    assert PlayerBadge.objects.filter(player=player, badge__slug="quester").exists()
    quests = client_for(player).get("/api/v1/game/quests/").json()["results"]
    assert quests[0]["progress"] == {"count": 2, "completed": True, "team": None}


def test_team_quest_sums_members_and_rewards_all(game, player, other_player, bird_clips,
                                                 django_capture_on_commit_callbacks):
    team = Team.objects.create(name="Coquis", max_members=3)
    TeamMembership.objects.create(team=team, player=player)
    TeamMembership.objects.create(team=team, player=other_player)
    quest = make_quest("team", target=2)
    with django_capture_on_commit_callbacks(execute=True):
        accept(player, bird_clips[0])
        accept(other_player, bird_clips[1], lat=18.305)
    progress = QuestProgress.objects.get(quest=quest, team=team)
    assert progress.count == 2 and progress.completed_at
    assert set(PointEvent.objects.filter(rule="quest_complete").values_list("player_id", flat=True)) == {
        player.pk, other_player.pk}
    assert leaderboards.scores(f"team-{team.pk}").keys() == {player.pk, other_player.pk}


def test_expired_quest_cannot_progress(game, player, bird_clips):
    now = datetime.now(timezone.utc)
    quest = make_quest(starts_at=now - timedelta(days=3), ends_at=now - timedelta(days=2))
    obs = accept(player, bird_clips[0])
    response = client_for(player).post(f"/api/v1/game/quests/{quest.pk}/contribute/", {"observation": obs.pk},
                                       format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "quest_expired"
    assert not QuestProgress.objects.exists()


def test_teams_create_join_full_leave(player, other_player):
    third = make_user("kestrel", "player")
    a, b, c = client_for(player), client_for(other_player), client_for(third)
    created = a.post("/api/v1/game/teams/", {"name": "Tody Squad", "max_members": 2}, format="json")
    assert created.status_code == 201
    team_id = created.json()["id"]
    assert a.post("/api/v1/game/teams/", {"name": "Another"}, format="json").json()["error"]["code"] == "already_in_team"
    assert b.post(f"/api/v1/game/teams/{team_id}/join/").status_code == 200
    full = c.post(f"/api/v1/game/teams/{team_id}/join/")
    assert full.status_code == 409 and full.json()["error"]["code"] == "team_full"
    assert TeamMembership.objects.filter(team_id=team_id).count() == 2
    assert c.post(f"/api/v1/game/teams/{team_id}/leave/").json()["error"]["code"] == "not_in_team"
    assert b.post(f"/api/v1/game/teams/{team_id}/leave/").status_code == 204
    assert c.post(f"/api/v1/game/teams/{team_id}/join/").status_code == 200
    bad = a.post("/api/v1/game/teams/", {"name": "x", "max_members": 500}, format="json")
    assert bad.status_code == 400

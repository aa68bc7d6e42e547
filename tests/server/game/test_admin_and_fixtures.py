"""An admin runs a quest end to end in the Django admin; game fixtures load; the schema lists the API."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.core.management import call_command
from django.test import Client

from server.game.models import BadgeDefinition, Quest, QuestProgress, SpeciesFact
from server.species.models import Species

from ..conftest import client_for
from .helpers import accept

pytestmark = pytest.mark.django_db


def drawn_on_map() -> str:
    """The park polygon as the admin's map widget submits it (GeoJSON in Web Mercator)."""
    geom = GEOSGeometry("MULTIPOLYGON (((-65.8 18.28, -65.76 18.28, -65.76 18.32, -65.8 18.32, -65.8 18.28)))",
                        srid=4326)
    geom.transform(3857)
    return geom.json


def test_admin_creates_a_quest_that_players_complete(game, admin_user, player, bird_clips):
    browser = Client()
    browser.force_login(admin_user)
    assert browser.get("/admin/game/quest/add/").status_code == 200
    now = datetime.now(timezone.utc)
    warbler = Species.objects.get(label="Adelaide's Warbler")
    response = browser.post("/admin/game/quest/add/", {
        "slug": "warbler-sprint", "title": "Warbler sprint", "description": "Two warblers in the park.",
        "species": [warbler.pk],
        "area": drawn_on_map(),
        "starts_at_0": (now - timedelta(days=1)).strftime("%Y-%m-%d"), "starts_at_1": "00:00:00",
        "ends_at_0": (now + timedelta(days=2)).strftime("%Y-%m-%d"), "ends_at_1": "00:00:00",
        "target_count": 2, "mode": "solo", "step_points": 5, "reward_points": 75,
        "reward_badge": BadgeDefinition.objects.get(slug="quester").pk, "active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    quest = Quest.objects.get(slug="warbler-sprint")
    assert quest.area.contains(quest.area.centroid), quest.area.wkt
    assert quest.area.extent == pytest.approx((-65.8, 18.28, -65.76, 18.32), abs=1e-6), quest.area.wkt
    listed = client_for(player).get("/api/v1/game/quests/").json()["results"]
    assert [q["slug"] for q in listed] == ["warbler-sprint"]
    clip = next(c for c in bird_clips if c.label == "Adelaide's Warbler")
    other = next(c for c in bird_clips if c.label == "Bananaquit")
    accept(player, other, when=now - timedelta(minutes=30))  # not a target species
    accept(player, clip, lat=18.29, when=now - timedelta(minutes=15))
    accept(player, clip, lat=18.31, when=now - timedelta(minutes=1))
    progress = QuestProgress.objects.get(quest=quest, player=player)
    assert progress.count == 2 and progress.completed_at
    assert player.badges.filter(badge__slug="quester").exists()
    assert browser.get("/admin/game/questprogress/").status_code == 200
    assert browser.get(f"/admin/game/pointevent/?player__id__exact={player.pk}").status_code == 200


def test_load_game_command_is_idempotent(catalogue):
    call_command("load_game")
    call_command("load_game")
    assert BadgeDefinition.objects.filter(slug__in=["species-5", "species-15", "species-22", "dawn-chorus",
                                                    "night-owl", "explorer", "validator", "adopt-week"]).count() == 8
    assert SpeciesFact.objects.filter(species__label="Bananaquit").count() == 7
    assert Quest.objects.filter(slug__in=["el-yunque-voices", "warbler-watch"]).count() == 2
    assert Quest.objects.get(slug="warbler-watch").species.get().label == "Adelaide's Warbler"


def test_schema_lists_game_endpoints(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for p in ("/api/v1/game/profile/", "/api/v1/game/leaderboards/{board}/", "/api/v1/game/quiz/",
              "/api/v1/observations/{id}/identifications/", "/api/v1/review/queue/",
              "/api/v1/recordings/session-token/"):
        assert p in paths, p

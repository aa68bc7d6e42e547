"""A full play-through over the real API and the real websocket (Channels over Redis):
register, record, accept, points, badge, level 2, treasure hunt, a team quest completed,
quiz, an identification reaching research grade, and the researchers' medoid review queue;
plus forged websocket subscriptions closing the socket."""
from __future__ import annotations

import time

from datetime import datetime, timedelta, timezone

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from server.asgi import application
from server.game.fixtures_loader import GAME_FIXTURES, load_badges
from server.game.models import Quest, QuizQuestion
from server.recordings.tasks import analyse_recording

from ..conftest import api_token, client_for, metadata, submit, ws_subprotocols

pytestmark = [pytest.mark.django_db(transaction=True)]


def register(name: str) -> tuple[APIClient, str, int]:
    response = APIClient().post("/api/v1/auth/register/", {"username": name, "password": "dawn-chorus-2026"},
                                format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    return client, body["token"], body["user"]["id"] if "user" in body else body["id"]


def record(client: APIClient, clip, lat: float, minutes_ago: float) -> dict:
    meta = metadata(identification={"label": clip.label, "confidence": 0.9, "model_version": "phone"},
                    location={"lat": lat, "lng": -65.78, "accuracy_m": 8.0},
                    recorded_at=(datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat())
    response = submit(client, clip.data, meta)
    assert response.status_code == 201, response.content
    analyse_recording(response.json()["id"])
    rec = client.get(f"/api/v1/recordings/{response.json()['id']}/").json()
    assert rec["status"] == "accepted", rec
    return rec


async def socket(token: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/v1/events/", headers=[(b"origin", b"http://127.0.0.1")],
                                 subprotocols=ws_subprotocols(token))
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "hello"
    return comm


async def drain(comm: WebsocketCommunicator, quiet: float = 0.6, expect: tuple[str, ...] = (),
                deadline_s: float = 20.0) -> list[dict]:
    """Every message until the socket stays quiet for ``quiet`` seconds (without cancelling it).

    With ``expect``, a quiet spell ends the drain only once every expected message type has arrived
    (or after ``deadline_s``), so a slow machine cannot cut the stream short.
    """
    out: list[dict] = []
    give_up = time.monotonic() + deadline_s
    while True:
        if not await comm.receive_nothing(timeout=quiet, interval=0.02):
            out.append(await comm.receive_json_from())
            continue
        seen = {m["type"] for m in out}
        if set(expect) <= seen or time.monotonic() > give_up:
            return out


def test_full_play_through(catalogue, bird_clips, researcher):
    load_badges(GAME_FIXTURES / "badges.json")
    clips = {c.label: c for c in bird_clips}
    warbler, bananaquit, grackle = clips["Adelaide's Warbler"], clips["Bananaquit"], clips["Greater Antillean Grackle"]
    robin, robin_token, _ = register("robin")
    wren, wren_token, _ = register("wren")
    now = datetime.now(timezone.utc)
    Quest.objects.create(slug="team-trio", title="Trio", starts_at=now - timedelta(hours=2),
                         ends_at=now + timedelta(days=1), target_count=3, mode="team", reward_points=30)

    async def scenario():
        ws_robin, ws_wren = await socket(robin_token), await socket(wren_token)
        await ws_robin.send_json_to({"type": "subscribe", "board": "alltime"})
        assert (await ws_robin.receive_json_from())["type"] == "subscribed"

        # team first, so the quest sums both players
        team = (await sync_to_async(robin.post)("/api/v1/game/teams/", {"name": "Dawn Patrol"}, format="json")).json()
        assert (await sync_to_async(wren.post)(f"/api/v1/game/teams/{team['id']}/join/")).status_code == 200

        # 1. robin records: accepted, points, first badge, level 2, board change, quest progress
        rec1 = await sync_to_async(record)(robin, warbler, 18.300, 3)
        first = ("recording.update", "points.awarded", "badge.earned", "level.up",
                 "quest.progress", "leaderboard.changed")
        got = await drain(ws_robin, expect=first)
        types = [m["type"] for m in got]
        for expected in first:
            assert expected in types, (expected, types)
        assert next(m for m in got if m["type"] == "level.up")["level"] == 2
        assert "first-recording" in [m["badge"]["slug"] for m in got if m["type"] == "badge.earned"]
        assert next(m for m in got if m["type"] == "leaderboard.changed")["board"] == "alltime"
        # the team-mate hears the team quest move
        assert any(m["type"] == "quest.progress" and m["count"] == 1 for m in await drain(ws_wren))
        profile = (await sync_to_async(robin.get)("/api/v1/game/profile/")).json()
        assert profile["level"] == 2 and "hunt" in profile["unlocked_scenarios"]

        # 2. treasure hunt for Bananaquit, found once
        hunt = (await sync_to_async(robin.post)("/api/v1/game/hunts/", {"species": "Bananaquit"}, format="json")).json()
        await sync_to_async(record)(robin, bananaquit, 18.310, 0)
        hunt = (await sync_to_async(robin.get)(f"/api/v1/game/hunts/{hunt['id']}/")).json()
        assert hunt["score"] == 1
        await drain(ws_robin)

        # 3. wren's recording completes the team quest: both rewarded and told
        await sync_to_async(record)(wren, grackle, 18.305, 2)
        wren_msgs = await drain(ws_wren)
        robin_msgs = await drain(ws_robin)
        for msgs in (wren_msgs, robin_msgs):
            assert any(m["type"] == "quest.progress" and m["completed"] for m in msgs), msgs
        quests = (await sync_to_async(robin.get)("/api/v1/game/quests/")).json()["results"]
        assert next(q for q in quests if q["slug"] == "team-trio")["progress"]["completed"] is True

        # 4. quiz on others' recordings: wren hears robin's, answers right once
        start = (await sync_to_async(wren.post)("/api/v1/game/quiz/")).json()
        question = start["question"]
        correct = (await sync_to_async(QuizQuestion.objects.get)(pk=question["id"])).correct_choice
        answer = (await sync_to_async(wren.post)(f"/api/v1/game/quiz/{start['session']}/answer/",
                                                 {"question": question["id"], "choice": correct}, format="json")).json()
        assert answer["correct"] and answer["points"] == 5

        # 5. wren (level 2) agrees with robin's warbler: research grade, points for both
        obs_id = rec1["observation"]["id"]
        ident = await sync_to_async(wren.post)(f"/api/v1/observations/{obs_id}/identifications/",
                                               {"species": warbler.label, "kind": "agree"}, format="json")
        assert ident.status_code == 201 and ident.json()["grade"]["status"] == "research"
        robin_msgs = await drain(ws_robin)
        assert any(m["type"] == "points.awarded" and m["events"][0]["rule"] == "research_grade" for m in robin_msgs)

        wren_msgs = await drain(ws_wren)
        assert {"quiz_answer", "identification_agreed"} <= {e["rule"] for m in wren_msgs
                                                            if m["type"] == "points.awarded" for e in m["events"]}

        # 6. forging another player's stream closes the socket with 4403
        await ws_wren.send_json_to({"type": "subscribe", "stream": "user.999999"})
        closed = await ws_wren.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": 4403}
        await ws_robin.disconnect()

    async_to_sync(scenario)()

    # 7. the researchers' queue: medoids of the largest clusters first
    queue = client_for(researcher).get("/api/v1/review/queue/").json()["results"]
    assert len(queue) == 3
    medoids = [e for e in queue if e["is_medoid"]]
    assert len(medoids) == 1 and queue[0] == medoids[0] and medoids[0]["cluster_size"] == 3


def test_board_subscriptions_are_authenticated_and_private(player, other_player):
    from server.game.models import Team, TeamMembership

    team = Team.objects.create(name="Owls")
    TeamMembership.objects.create(team=team, player=other_player)
    token = api_token(player)

    async def scenario():
        comm = await socket(token)
        await comm.send_json_to({"type": "subscribe", "board": "nonsense"})
        assert (await comm.receive_json_from())["error"]["code"] == "invalid_board"
        await comm.send_json_to({"type": "subscribe", "stream": f"user.{player.pk}"})
        assert (await comm.receive_json_from())["type"] == "subscribed"
        await comm.send_json_to({"type": "subscribe", "board": f"team-{team.pk}"})
        assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
        anon = WebsocketCommunicator(application, "/ws/v1/events/", headers=[(b"origin", b"http://127.0.0.1")])
        await anon.connect()
        await anon.receive_json_from()
        await anon.send_json_to({"type": "subscribe", "board": "alltime"})
        assert await anon.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()

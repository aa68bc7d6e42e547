"""OpenAPI schema and docs, JSON 404s, and websocket events over the real Redis channel layer."""
from __future__ import annotations

import uuid

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from server.asgi import application
from server.realtime import publish
from server.realtime.publish import user_group
from tests.server.conftest import api_token, ws_subprotocols

pytestmark = pytest.mark.django_db(transaction=True)


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/recordings/" in paths and "/api/v1/observations/" in paths
    assert client.get("/api/docs/").status_code == 200
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def connect(token: str | None = None, query: str = "") -> WebsocketCommunicator:
    """A socket on /ws/v1/events/, signed in with ``token`` (offered as a subprotocol) when given."""
    comm = WebsocketCommunicator(application, f"/ws/v1/events/{query}", headers=[(b"origin", b"http://127.0.0.1")],
                                 subprotocols=ws_subprotocols(token) if token else None)
    connected, _ = await comm.connect()
    assert connected
    return comm


def test_websocket_delivers_own_updates_only(player, other_player):
    """A player's socket gets their own stream; an anonymous one nothing (the map feed is /ws/map/)."""
    token = api_token(player)

    async def scenario():
        mine = await connect(token)
        anon = await connect()
        assert (await mine.receive_json_from())["authenticated"] is True
        assert (await anon.receive_json_from())["authenticated"] is False
        await mine.send_json_to({"type": "ping"})
        assert (await mine.receive_json_from())["type"] == "pong"
        await anon.send_json_to({"type": "subscribe", "all": True})
        assert (await anon.receive_json_from())["error"]["code"] == "unsupported_message"
        await anon.send_to(text_data="{not json")
        assert (await anon.receive_json_from())["error"]["code"] == "unsupported_message"
        from channels.layers import get_channel_layer
        layer = get_channel_layer()
        await layer.group_send(user_group(player.pk), {"type": "recording.update", "recording": {"id": "r1"}})
        await layer.group_send(user_group(other_player.pk), {"type": "recording.update", "recording": {"id": "r2"}})
        got = await mine.receive_json_from(timeout=5)
        assert got["recording"]["id"] == "r1"
        assert await mine.receive_nothing(timeout=0.3)
        assert await anon.receive_nothing(timeout=0.3)
        await mine.disconnect()
        await anon.disconnect()

    async_to_sync(scenario)()


async def closed_with(comm: WebsocketCommunicator) -> int:
    """The close code of a socket the server closes before saying hello."""
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]


def test_bad_token_closes_with_4401(player):
    """A token the server does not know closes the socket (no anonymous fallback), and so does a
    real token with characters appended (the old code compared only its first 40)."""
    token = api_token(player)

    async def scenario():
        for bad in ["f" * 400, token + "0", token + "extra", token[:-1]]:
            comm = await connect(bad)
            assert await closed_with(comm) == 4401
            await comm.disconnect()
        good = await connect(token)
        assert (await good.receive_json_from())["authenticated"] is True
        await good.disconnect()

    async_to_sync(scenario)()


def test_token_in_the_url_is_refused(player):
    """``?token=`` is no way in any more: the socket closes with 4400 even for a valid token (URLs
    end up in logs), and the same token as a subprotocol signs in."""
    token = api_token(player)

    async def scenario():
        comm = await connect(query=f"?token={token}")
        assert await closed_with(comm) == 4400
        await comm.disconnect()
        comm = await connect(token)
        assert (await comm.receive_json_from())["authenticated"] is True
        await comm.disconnect()

    async_to_sync(scenario)()


def test_the_server_accepts_dawn_v1_and_never_echoes_the_token(player):
    token = api_token(player)

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/v1/events/", headers=[(b"origin", b"http://127.0.0.1")],
                                     subprotocols=ws_subprotocols(token))
        connected, subprotocol = await comm.connect()
        assert connected and subprotocol == "dawn.v1"
        assert (await comm.receive_json_from())["authenticated"] is True
        await comm.disconnect()
        for path in ("/ws/map/", "/ws/v1/events/"):  # anonymous, without subprotocols, as before
            comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1")])
            connected, subprotocol = await comm.connect()
            assert connected and subprotocol is None
            assert (await comm.receive_json_from())["authenticated"] is False
            await comm.disconnect()

    async_to_sync(scenario)()


def test_an_expired_token_closes_the_socket(player):
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    token = api_token(player)
    AuthToken.objects.filter(user=player).update(expiry=timezone.now() - timedelta(seconds=1))

    async def scenario():
        comm = await connect(token)
        assert await closed_with(comm) == 4401
        await comm.disconnect()

    async_to_sync(scenario)()


def test_board_subscribers_of_one_process_share_one_group_member(player):
    """Shared groups (boards, the map feed) reach a process's sockets through its hub: every
    subscriber hears each message once, an unsubscribed socket nothing, and the process leaves the
    group with its last subscriber."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from server.game.boards import group_for

    token = api_token(player)
    board = f"species-test-{uuid.uuid4().hex[:8]}"  # a group no earlier run left members in
    group = group_for(board)

    def members() -> int:
        """The group's members as channels_redis stores them (a sorted set; the test reads the layer's
        storage, which no public API shows)."""
        layer = get_channel_layer()
        return redis.Redis.from_url(layer.hosts[0]["address"]).zcard(layer._group_key(group))

    async def scenario():
        layer = get_channel_layer()
        sockets = [await connect(token) for _ in range(3)]
        for ws in sockets:
            assert (await ws.receive_json_from())["type"] == "hello"
            await ws.send_json_to({"type": "subscribe", "board": board})
            assert (await ws.receive_json_from())["type"] == "subscribed"
        assert await sync_to_async(members)() == 1  # three sockets, one member: the process's hub
        await layer.group_send(group, {"type": "leaderboard.changed", "board": board, "changes": []})
        for ws in sockets:
            assert (await ws.receive_json_from(timeout=5))["type"] == "leaderboard.changed"
            assert await ws.receive_nothing(timeout=0.1)
        await sockets[0].send_json_to({"type": "unsubscribe", "board": board})
        assert (await sockets[0].receive_json_from())["type"] == "unsubscribed"
        await layer.group_send(group, {"type": "leaderboard.changed", "board": board, "changes": [1]})
        for ws in sockets[1:]:
            assert (await ws.receive_json_from(timeout=5))["changes"] == [1]
        assert await sockets[0].receive_nothing(timeout=0.3)
        for ws in sockets:
            await ws.disconnect()
        assert await sync_to_async(members)() == 0

    async_to_sync(scenario)()


def test_a_push_that_cannot_be_queued_is_dropped_without_raising(monkeypatch, caplog):
    def down(items):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(publish._outbox, "put", down)
    publish.send([("user.1", {"type": "recording.update"})])  # must not raise
    assert "dropped" in caplog.text

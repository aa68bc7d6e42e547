"""/ws/map/: bbox subscriptions receive accepted observations live; malformed ones get errors."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from server.asgi import application
from server.observations.models import Observation
from server.recordings.events import emit_on_commit
from tests.server.game.helpers import analysed_event

pytestmark = pytest.mark.django_db(transaction=True)


async def open_map() -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/map/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from())["type"] == "hello"
    return comm


def test_accepted_observation_reaches_subscribers_inside_the_bbox(make_obs):
    def accept(label: str, lng: float, lat: float) -> Observation:
        from django.db import transaction
        with transaction.atomic():
            obs = make_obs(label, lng, lat)
            emit_on_commit(analysed_event(obs))
        return obs

    async def scenario():
        inside, outside, picky = await open_map(), await open_map(), await open_map()
        await inside.send_json_to({"type": "subscribe", "bbox": [-66.0, 18.0, -65.5, 18.5]})
        await outside.send_json_to({"type": "subscribe", "bbox": "-67.5,17.8,-66.5,18.6"})
        await picky.send_json_to({"type": "subscribe", "bbox": [-67, 17, -65, 19], "species": ["Puerto Rican Tody"]})
        for comm in (inside, outside, picky):
            assert (await comm.receive_json_from(timeout=20))["type"] == "subscribed"
        obs = await database_sync_to_async(accept)("Bananaquit", -65.78, 18.30)
        got = await inside.receive_json_from(timeout=20)
        assert got["type"] == "observation.created" and got["observation"]["id"] == obs.pk
        assert got["observation"]["geometry"]["coordinates"] == [-65.78, 18.3]
        assert got["observation"]["properties"]["species"] == "Bananaquit"
        assert await outside.receive_nothing(timeout=0.3)
        assert await picky.receive_nothing(timeout=0.1)
        await inside.send_json_to({"type": "unsubscribe"})
        assert (await inside.receive_json_from(timeout=20))["type"] == "unsubscribed"
        await database_sync_to_async(accept)("Puerto Rican Tody", -65.79, 18.31)
        assert (await picky.receive_json_from(timeout=20))["observation"]["properties"]["species"] == \
            "Puerto Rican Tody"
        assert await inside.receive_nothing(timeout=0.3)
        for comm in (inside, outside, picky):
            await comm.disconnect()

    async_to_sync(scenario)()

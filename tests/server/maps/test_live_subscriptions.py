"""/ws/map/ subscription messages: malformed ones get an error and the socket stays usable."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from server.asgi import application
from server.maps.live import groups_for_bbox


async def open_map() -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/map/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from())["type"] == "hello"
    return comm


@pytest.mark.parametrize("message,code", [
    ({"type": "subscribe"}, "invalid_bbox"),
    ({"type": "subscribe", "bbox": [1, 2, 3]}, "invalid_bbox"),
    ({"type": "subscribe", "bbox": "a,b,c,d"}, "invalid_bbox"),
    ({"type": "subscribe", "bbox": [10, 0, 5, 1]}, "invalid_bbox"),
    ({"type": "subscribe", "bbox": [-200, 0, 5, 1]}, "invalid_bbox"),
    ({"type": "subscribe", "bbox": [0, 0, 1, 1e999]}, "invalid_bbox"),
    ({"type": "subscribe", "bbox": [0, 0, 1, 1], "species": "Bananaquit"}, "invalid_filter"),
    ({"type": "dance"}, "unsupported_message"),
    (["subscribe"], "invalid_message"),
])
def test_malformed_subscriptions_get_an_error_and_keep_the_socket(message, code):
    async def scenario():
        comm = await open_map()
        await comm.send_json_to(message)
        reply = await comm.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["error"]["code"] == code
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
        await comm.disconnect()

    async_to_sync(scenario)()


def test_not_json_is_an_error():
    async def scenario():
        comm = await open_map()
        await comm.send_to(text_data="{nope")
        assert (await comm.receive_json_from(timeout=5))["error"]["code"] == "invalid_message"
        await comm.disconnect()

    async_to_sync(scenario)()


def test_bbox_groups_switch_to_coarse_cells_for_large_boxes():
    assert groups_for_bbox(-66.0, 18.0, -65.5, 18.5) == ["map.c1.m66.18"]
    world = groups_for_bbox(-180, -90, 180, 90)
    assert len(world) == 36 * 18 and all(g.startswith("map.c10.") for g in world)

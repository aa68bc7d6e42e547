"""Opt-in notifications: "quest done" from the player's stream and "new species nearby" from the live
map socket (a real websocket server here), through a fake notification service."""
from __future__ import annotations

import json
import threading
import time

import pytest

from mobile.api import Connectivity
from mobile.controller import FieldClient
from mobile.notify import Notifier, new_species_nearby, quest_done
from mobile.services.secure_store import MemorySecureStore

from .conftest import make_services

QUEST = {"type": "quest.progress", "quest": {"id": 7, "slug": "dawn-week", "title": "Dawn chorus week"},
         "count": 10, "target": 10, "team": None, "completed": True}


def sighting(label: str, name: str, lat: float = 18.2990, lng: float = -65.7850) -> dict:
    return {"type": "observation.created", "observation": {
        "type": "Feature", "id": 5, "geometry": {"type": "Point", "coordinates": [lng, lat]},
        "properties": {"id": 5, "species": label, "common_name": name, "obscured": False}}}


class Inbox:
    def __init__(self, fail: bool = False):
        self.sent: list[tuple[str, str]] = []
        self.fail = fail
        self.arrived = threading.Event()

    def __call__(self, title: str, text: str) -> None:
        if self.fail:
            raise NotImplementedError("no notification service")
        self.sent.append((title, text))
        self.arrived.set()


def test_nothing_is_sent_until_the_player_opts_in():
    inbox = Inbox()
    n = Notifier(MemorySecureStore(), inbox)
    assert not n.enabled and n.on_message(QUEST) is None and inbox.sent == []
    n.set_enabled(True)
    assert n.on_message(QUEST) == ("Quest done", "Dawn chorus week: 10 of 10 found.")
    assert n.on_message(QUEST) is None            # once per quest
    n.on_message({**QUEST, "completed": False, "quest": {"id": 8, "title": "x"}})
    assert len(inbox.sent) == 1
    n.set_enabled(False)
    assert n.on_message({**QUEST, "quest": {"id": 9, "title": "y"}}) is None


def test_new_species_nearby_skips_the_players_own_and_repeats():
    inbox = Inbox()
    n = Notifier(MemorySecureStore(), inbox, known_species=lambda: {"Bananaquit"}, position=lambda: (18.2960, -65.7850))
    n.set_enabled(True)
    assert n.on_message(sighting("Bananaquit", "Bananaquit")) is None
    title, text = n.on_message(sighting("Puerto Rican Tody", "Puerto Rican Tody"))
    assert title == "New species nearby" and "Puerto Rican Tody" in text and "334 m away" in text
    assert n.on_message(sighting("Puerto Rican Tody", "Puerto Rican Tody")) is None
    assert new_species_nearby({"type": "observation.created", "observation": "junk"}, set(), None) is None
    assert quest_done({"type": "quest.progress", "completed": True}) == ("Quest done", "A quest is complete.")


def test_a_device_without_notifications_is_reported_once_and_never_breaks_the_stream():
    n = Notifier(MemorySecureStore(), Inbox(fail=True))
    n.set_enabled(True)
    assert n.on_message(QUEST) is None and "cannot be shown" in n.last_error


def test_the_field_client_notifies_from_its_realtime_messages(tmp_path):
    inbox = Inbox()
    services = make_services()
    services.notify = inbox
    client = FieldClient(tmp_path, "http://127.0.0.1:9", services, Connectivity(online=False))
    try:
        client._on_event(QUEST)
        assert inbox.sent == []                         # off by default
        assert "on" in client.set_notifications(True)
        client._on_event(QUEST)
        assert inbox.sent == [("Quest done", "Dawn chorus week: 10 of 10 found.")]
        assert client.feed[-1] == QUEST                 # the feed still gets every message
        assert "off" in client.set_notifications(False) and not client.notifier.enabled
    finally:
        client.close()


def test_the_live_map_socket_subscribes_around_the_player_and_notifies(tmp_path):
    from websockets.sync.server import serve

    received: list[dict] = []

    def handler(ws):
        received.append(json.loads(ws.recv(timeout=5)))
        ws.send(json.dumps({"type": "subscribed", "bbox": received[-1]["bbox"], "groups": 1}))
        ws.send(json.dumps(sighting("Puerto Rican Tody", "Puerto Rican Tody")))
        time.sleep(1.0)

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        inbox = Inbox()
        services = make_services()
        services.notify = inbox
        client = FieldClient(tmp_path, f"http://127.0.0.1:{port}", services)
        try:
            client.set_notifications(True)
            assert inbox.arrived.wait(10), client._nearby.last_error if client._nearby else "no listener"
        finally:
            client.close()
            server.shutdown()
    west, south, east, north = received[0]["bbox"]
    lat, lng = services.location.current().lat, services.location.current().lng
    assert west < lng < east and south < lat < north and east - west == pytest.approx(0.04)
    assert inbox.sent[0][0] == "New species nearby"

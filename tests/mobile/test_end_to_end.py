"""End to end against a live server started here (uvicorn + a real Celery worker):
the file microphone plays a real clip → on-device ID → queued while offline → online: upload →
the observation and the points arrive over the websocket, and the queue shows "accepted"."""
from __future__ import annotations

import time

import pytest

from mobile.api import Connectivity
from mobile.controller import FieldClient
from mobile.offline_queue import ACCEPTED, SENT, WAITING
from server.observations.models import Observation
from tests.server.conftest import catalogue, media_root  # noqa: F401 - fixtures
from tests.server.test_workers import proc_env, wait_for  # noqa: F401

from .conftest import make_services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_record_identify_queue_offline_then_upload_and_hear_back(live_server_url, catalogue, tmp_path,  # noqa: F811
                                                                  proc_env):  # noqa: F811
    client = FieldClient(tmp_path / "phone", live_server_url, make_services(), Connectivity(online=True))
    try:
        client.register("field_robin", "a-long-enough-passphrase-7")
        assert client.signed_in and client.store.get("api_token")
        client.start_realtime()
        assert client.wait_connected(30), f"websocket did not connect: {client._events.last_error}"

        client.set_online(False)  # the network goes "off" before recording
        client.start_recording()
        take = client.stop_recording()
        assert take.session_token  # from the stock fetched while online
        client.mark.select(0.5, 5.5)
        ident = client.identify()
        assert ident.label == "Adelaide's Warbler" and not ident.blocked
        item = client.save(ident.label)
        assert client.sync().offline and client.queue.get(item.key).state == WAITING

        client.set_online(True)  # the network comes back
        client.queue.retry_now(item.key)
        result = client.sync()
        assert result.sent == [item.key], result
        assert client.queue.get(item.key).state in (SENT, ACCEPTED)

        def outcomes():
            return [m for m in client.feed if m.get("type") == "recording.update"]

        def heard():
            kinds = {m.get("type") for m in client.feed}
            return client.queue.get(item.key).state == ACCEPTED and "points.awarded" in kinds and bool(outcomes())

        wait_for(heard, 90, "the outcome over the websocket", proc_env)
        done = client.queue.get(item.key)
        obs = Observation.objects.get(pk=int(done.observation_id))
        assert obs.species.label == "Adelaide's Warbler" and obs.observer.username == "field_robin"
        assert len(outcomes()) == 1 and outcomes()[0]["recording"]["status"] == "accepted"  # one per outcome
        assert outcomes()[0]["observation"]["id"] == obs.pk
        assert any(m.get("type") == "points.awarded" and m.get("points", 0) > 0 for m in client.feed)
        assert ("success", "Your entry is on the map!") in client.notices

        # the same take sent again (a retry after a lost answer) is harmless
        again = client.api.upload_recording(client.queue.audio(done), "take.wav", done.metadata)
        assert again["id"] == done.recording_id
        assert Observation.objects.filter(recording_id=done.recording_id).count() == 1

        # a revoked token: a visible message, signed out, nothing lost
        client.api.token = "0" * 40
        client.start_recording()
        client.stop_recording()
        client.identify()
        second = client.save("unknown")
        result = client.sync()
        assert result.auth_required and not client.signed_in
        assert client.queue.get(second.key).state == WAITING
        assert any("sign in again" in text for _lvl, text in client.notices)
    finally:
        client.close()
    time.sleep(0.1)

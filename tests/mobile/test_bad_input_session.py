"""Bad input mid-session, over real HTTP: a token revoked while items wait (human message, queue kept,
signing in again uploads them) and a record withdrawn while it is still in the upload queue (it
leaves the queue, the others upload)."""
from __future__ import annotations

import json

import pytest

from mobile.api import Connectivity
from mobile.controller import FieldClient
from mobile.offline_queue import SENT, WAITING

from .conftest import make_services


def queued_client(tmp_path, url: str, n: int = 3) -> FieldClient:
    services = make_services()
    services.secure_store.set("api_token", "old-token")
    services.secure_store.set("username", "robin")
    client = FieldClient(tmp_path, url, services, Connectivity(online=True))
    for _ in range(n):
        client.start_recording()
        client.stop_recording()
        client.mark.select(1.0, 4.0)
        client.save("Adelaide's Warbler", 0.9)
    return client


def serve_uploads(server, accept_token: str, withdrawn_keys: set[str] = frozenset()):
    uploads: list[str] = []

    def upload(handler):
        if handler.headers.get("Authorization") != f"Token {accept_token}":
            return 401, {"error": {"code": "auth_required", "message": "Invalid token."}}
        meta = json.loads(handler.body.split(b'name="metadata"\r\n\r\n', 1)[1].split(b"\r\n--", 1)[0])
        if meta["idempotency_key"] in withdrawn_keys:
            return 409, {"error": {"code": "recording_withdrawn", "message": "This recording was withdrawn."}}
        uploads.append(meta["idempotency_key"])
        return 201, {"id": f"rec-{len(uploads)}", "status": "received"}
    server.routes[("POST", "/api/v1/recordings/")] = upload
    server.routes[("POST", "/api/v1/recordings/session-token/")] = lambda h: (404, {"error": {"code": "not_found"}})
    server.routes[("POST", "/api/v1/auth/login/")] = lambda h: (200, {"token": "new-token"})
    return uploads


def test_a_token_revoked_mid_session_keeps_the_queue_and_signing_in_again_sends_it(tmp_path, fake_server):
    uploads = serve_uploads(fake_server, accept_token="new-token")
    client = queued_client(tmp_path, fake_server.url)
    try:
        keys = sorted(i.key for i in client.queue.items())
        result = client.sync()
        assert result.auth_required and uploads == []
        assert not client.signed_in and client.api.token is None
        level, text = client.notices[-1]
        assert level == "error" and "sign in again" in text and "queue" in text
        items = client.queue.items()
        assert sorted(i.key for i in items) == keys and {i.state for i in items} == {WAITING}
        assert all(i.attempts == 0 for i in items)      # a refusal of the token is not a failed attempt
        client.login("robin", "secret")                 # the re-login path
        client.sync()
        assert sorted(uploads) == keys and {i.state for i in client.queue.items()} == {SENT}
    finally:
        client.close()


def test_a_record_withdrawn_while_queued_leaves_the_queue_and_the_others_upload(tmp_path, fake_server):
    client = queued_client(tmp_path, fake_server.url, n=3)
    try:
        a, b, c = [i.key for i in client.queue.items()]
        assert client.queue.withdraw(a)                 # withdrawn on the phone before it was sent
        uploads = serve_uploads(fake_server, accept_token="old-token", withdrawn_keys={b})  # b: withdrawn on the web
        result = client.sync()
        assert uploads == [c] and result.withdrawn == [b] and result.rejected == []
        assert [i.key for i in client.queue.items()] == [c]
        assert len([p for p in client.queue.audio_dir.iterdir() if p.is_file()]) == 1   # a's and b's audio gone
    finally:
        client.close()


@pytest.mark.parametrize("how", ["poll_status", "poll_gone", "event"])
def test_an_uploaded_record_withdrawn_on_the_server_leaves_the_queue(tmp_path, fake_server, how):
    uploads = serve_uploads(fake_server, accept_token="old-token")
    client = queued_client(tmp_path, fake_server.url, n=2)
    try:
        client.uploader.drain()
        first, second = client.queue.items()
        if how == "poll_status":
            fake_server.routes[("GET", f"/api/v1/recordings/{first.recording_id}/")] = lambda h: (
                200, {"id": first.recording_id, "status": "withdrawn"})
        elif how == "poll_gone":
            fake_server.routes[("GET", f"/api/v1/recordings/{first.recording_id}/")] = lambda h: (
                410, {"error": {"code": "recording_withdrawn", "message": "Withdrawn."}})
        fake_server.routes[("GET", f"/api/v1/recordings/{second.recording_id}/")] = lambda h: (
            200, {"id": second.recording_id, "status": "accepted", "observation": 4})
        if how == "event":
            assert client.uploader.on_event({"type": "recording.update",
                                             "recording": {"id": first.recording_id, "status": "withdrawn"}})
            client.uploader.refresh()
        else:
            client.uploader.refresh()
        assert [(i.key, i.state) for i in client.queue.items()] == [(second.key, "accepted")]
        assert len(uploads) == 2
    finally:
        client.close()

"""The phone's websocket sign-in: the token travels as a subprotocol, never in the URL, and a
refused token ends the listener and signs the player out instead of reconnecting forever."""
from __future__ import annotations

import threading
import time

import pytest
from websockets.sync.server import serve

from mobile.api import ApiClient, Connectivity
from mobile.controller import TOKEN_KEY, FieldClient
from mobile.realtime import EventListener

from .conftest import make_services


class SocketServer:
    """A websocket server on a free port that records each handshake and answers with ``reply``."""

    def __init__(self, reply):
        self.handshakes: list[tuple[str, list[str]]] = []
        self.reply = reply

        def handler(ws):
            offered = ws.request.headers.get_all("Sec-WebSocket-Protocol")
            self.handshakes.append((ws.request.path, [p.strip() for h in offered for p in h.split(",")]))
            self.reply(ws)

        self.server = serve(handler, "127.0.0.1", 0, subprotocols=["dawn.v1"])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def refusing_server():
    server = SocketServer(lambda ws: ws.close(4401, "authentication failed"))
    yield server
    server.close()


def test_the_token_goes_in_a_subprotocol_not_the_url():
    api = ApiClient("https://dawn.example", token="dawn_abc123")
    assert api.ws_url == "wss://dawn.example/ws/v1/events/"
    assert api.ws_subprotocols == ["dawn.v1", "token.dawn_abc123"]
    assert ApiClient("http://x").ws_subprotocols == ["dawn.v1"]


def test_a_refused_token_ends_the_listener_and_signs_out(tmp_path, refusing_server):
    client = FieldClient(tmp_path / "app", refusing_server.url, make_services(), Connectivity(online=True))
    try:
        client.store.set(TOKEN_KEY, "dawn_expired")
        client.api.token = "dawn_expired"
        client.start_realtime()
        for _ in range(100):
            if not client.signed_in:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # a listener that reconnected would have shaken hands again by now
        assert refusing_server.handshakes == [("/ws/v1/events/", ["dawn.v1", "token.dawn_expired"])]
        assert not client.signed_in and client.store.get(TOKEN_KEY) is None
        assert client._events is None
        assert any(level == "error" and "sign in again" in text for level, text in client.notices)
    finally:
        client.close()


def test_other_closes_reconnect():
    calls = []
    server = SocketServer(lambda ws: (calls.append(1), ws.close(1011)))
    refused = threading.Event()
    listener = EventListener(lambda: server.url.replace("http", "ws") + "/ws/v1/events/", lambda m: None,
                             subprotocols=lambda: ["dawn.v1"], on_auth_failed=refused.set)
    try:
        listener.start()
        deadline = threading.Event()
        for _ in range(100):
            if len(calls) >= 2:
                break
            deadline.wait(0.1)
        assert len(calls) >= 2 and not refused.is_set()
    finally:
        listener.stop()
        server.close()

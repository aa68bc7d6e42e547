"""Websocket listener for ``/ws/v1/events/``: reconnects with backoff, hands messages to a callback.

It signs in with the subprotocols the API client gives (``dawn.v1``, ``token.<token>``). A close
with 4401 (token unknown or expired) or 4400 (refused URL) ends the listener: reconnecting cannot
help, so it calls ``on_auth_failed`` instead and the player signs in again.
"""
from __future__ import annotations

import json
import queue
import threading
from typing import Callable
from urllib.parse import urlsplit

from .backoff import retry_delay

Handler = Callable[[dict], None]
AUTH_CLOSE_CODES = frozenset({4400, 4401})  # server/realtime/auth.py


class EventListener:
    def __init__(self, url_factory: Callable[[], str], on_message: Handler, online: Callable[[], bool] = lambda: True,
                 subprotocols: Callable[[], list[str]] = list, on_auth_failed: Callable[[], None] = lambda: None,
                 greeting: Callable[[], list[dict]] = list):
        self.url_factory, self.on_message, self.online = url_factory, on_message, online
        self.greeting = greeting  # messages sent on every (re)connect, e.g. the live map's bbox subscription
        self.subprotocols, self.on_auth_failed = subprotocols, on_auth_failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self._ws = None
        self.last_error = ""
        self.boards: set[str] = set()  # leaderboards to follow; (re)subscribed on every connect
        self._outbox: queue.SimpleQueue[dict] = queue.SimpleQueue()

    def follow_board(self, board: str) -> None:
        """Receive ``leaderboard.changed`` for ``board`` (docs/realtime.md), now and after reconnects."""
        if board not in self.boards:
            self.boards.add(board)
            self._outbox.put({"type": "subscribe", "board": board})

    def unfollow_board(self, board: str) -> None:
        if board in self.boards:
            self.boards.discard(board)
            self._outbox.put({"type": "unsubscribe", "board": board})

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="events")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        if self._thread is not None:
            self._thread.join(timeout=3)
        self._thread = None

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        failures = 0
        while not self._stop.is_set():
            if not self.online():
                self._stop.wait(0.5)
                continue
            try:
                url = self.url_factory()
                # Channels' origin check refuses websockets without an Origin: present the server's own
                with connect(url, origin=origin_of(url), subprotocols=self.subprotocols() or None,
                             open_timeout=10, close_timeout=1) as ws:
                    self._ws = ws
                    failures = 0
                    while not self._outbox.empty():  # stale requests: the set below says it all
                        self._outbox.get_nowait()
                    for board in sorted(self.boards):
                        ws.send(json.dumps({"type": "subscribe", "board": board}))
                    for hello in self.greeting():
                        ws.send(json.dumps(hello))
                    self.connected.set()
                    while not self._stop.is_set() and self.online():
                        while not self._outbox.empty():
                            ws.send(json.dumps(self._outbox.get_nowait()))
                        try:
                            raw = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        try:
                            message = json.loads(raw)
                        except ValueError:
                            continue
                        if isinstance(message, dict):
                            self.on_message(message)
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code in AUTH_CLOSE_CODES:
                    self.last_error = f"sign-in refused ({exc.rcvd.code})"
                    self._stop.set()
                    self.connected.clear()
                    self._ws = None
                    self.on_auth_failed()
                    return
                failures += 1
                self.last_error = repr(exc)
            except Exception as exc:  # noqa: BLE001 - network trouble: back off and reconnect
                failures += 1
                self.last_error = repr(exc)
            finally:
                self._ws = None
                self.connected.clear()
            if not self._stop.is_set():
                self._stop.wait(min(30.0, retry_delay(failures, base_s=1.0)) if failures else 0.2)


def origin_of(ws_url: str) -> str:
    """``http(s)://host[:port]`` of a ``ws(s)://`` URL."""
    parts = urlsplit(ws_url)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"

"""WebSocket endpoint ``/ws/v1/events/``: a player's own stream and the leaderboards they follow.

Authenticate with the API token in the subprotocols ``["dawn.v1", "token.<api token>"]`` or the
session cookie (see auth.py: a bad token closes with 4401, ``?token=`` with 4400). Anonymous
clients get ``hello`` and ``pong`` only (the live map is ``/ws/map/``). Every message type and its
fields: ``docs/realtime.md``.

Authenticated clients may also follow leaderboards: ``{"type": "subscribe", "board": "alltime"}``
(``unsubscribe`` likewise) to receive ``leaderboard.changed``. Public boards are open to every
player; ``team-<id>`` only to its members. Asking for someone else's stream
(``{"type": "subscribe", "stream": "user.<other id>"}``) or a foreign team board closes the socket
with 4403; an anonymous subscription closes it with 4401.

The player's own stream reaches the socket through its channel; the groups many sockets share
(boards) through the process's hub (see hub.py).
"""
from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from server.game.board_access import BoardForbidden, BoardNameError, board_subscription

from .hub import hub
from .publish import user_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_BOARDS = 20
# channel-layer events sent to the client as they are (server.realtime.outcomes, server.game.push;
# docs/realtime.md documents each)
RELAYED = frozenset({"recording.update", "points.awarded", "badge.earned", "level.up", "quest.progress",
                     "leaderboard.changed"})
_last_encoded: tuple[dict | None, str] = (None, "")


def shared(group: str) -> bool:
    """Boards, not a player's own stream."""
    return not group.startswith("user.")


def encoded(message: dict) -> str:
    """The message as JSON, encoded once for all local sockets of a group (the channel layer hands
    every consumer of this process the same dict)."""
    global _last_encoded
    if _last_encoded[0] is not message:
        _last_encoded = (message, json.dumps(message))
    return _last_encoded[1]


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.groups_joined = []
        user = self.scope.get("user")
        authenticated = user is not None and user.is_authenticated
        if authenticated:
            self.groups_joined.append(user_group(user.pk))
            await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "authenticated": authenticated})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.leave(group)

    async def close(self, code=None, reason=None):
        """Closing from the server end leaves the shared groups at once (the disconnect comes later)."""
        for group in getattr(self, "groups_joined", []):
            if shared(group):
                await hub().leave(group, self)
        await super().close(code, reason)

    async def join(self, group: str) -> None:
        """Shared groups through the hub; the player's own stream through this socket's channel."""
        if shared(group):
            await hub().join(group, self)
        else:
            await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        if shared(group):
            await hub().leave(group, self)
        else:
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data):
        """Malformed JSON is answered with an error instead of dropping the connection."""
        try:
            return json.loads(text_data)
        except (ValueError, RecursionError):  # nesting past the interpreter's limit is malformed too
            return None

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind in ("subscribe", "unsubscribe") and ("board" in content or "stream" in content):
            await self.subscription(kind, content)
        else:
            await self.send_json({"type": "error", "error": {
                "code": "unsupported_message", "message": "Accepted: ping, subscribe/unsubscribe {board}."}})

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "error": {"code": code, "message": message}})

    async def subscription(self, kind: str, content: dict) -> None:
        """(Un)subscribe to a board; forged streams and foreign team boards close the socket."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if "stream" in content:
            if content["stream"] != user_group(user.pk):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self.send_json({"type": f"{kind}d", "stream": content["stream"]})
            return
        try:
            board = await database_sync_to_async(board_subscription)(user.pk, str(content["board"]))
        except BoardNameError as exc:
            await self.error("invalid_board", str(exc))
            return
        except BoardForbidden:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        name, group = board.name, board.group
        if kind == "subscribe":
            if group not in self.groups_joined and len(self.groups_joined) >= MAX_BOARDS + 1:
                await self.error("too_many_subscriptions", f"At most {MAX_BOARDS} boards per socket.")
                return
            if group not in self.groups_joined:
                self.groups_joined.append(group)
                await self.join(group)
        elif group in self.groups_joined:
            self.groups_joined.remove(group)
            await self.leave(group)
        await self.send_json({"type": f"{kind}d", "board": name})

    async def relay(self, message: dict) -> None:
        """Send a pushed event to the socket as it is (others are ignored)."""
        if message.get("type") in RELAYED:
            await self.send(text_data=encoded(message))

    async def dispatch(self, message):
        """Relay pushed events to the socket; everything else goes through channels' dispatch (which
        hops to a worker thread before every handler to close stale database connections: relayed
        events never touch the database)."""
        if message.get("type") in RELAYED:
            await self.relay(message)
        else:
            await super().dispatch(message)

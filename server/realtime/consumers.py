"""WebSocket endpoint ``/ws/v1/events/``: a player's outcomes and the live map feed.

Authenticate with ``?token=<api token>`` (phones) or the session cookie (browser). Anonymous
clients receive only the public map feed.

Authenticated clients may also follow leaderboards: ``{"type": "subscribe", "board": "alltime"}``
(``unsubscribe`` likewise) to receive ``leaderboard.changed``. Public boards are open to every
player; ``team-<id>`` only to its members. Asking for someone else's stream
(``{"type": "subscribe", "stream": "user.<other id>"}``) or a foreign team board closes the socket
with 4403; an anonymous subscription closes it with 4401.
"""
from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import MAP_GROUP, user_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_BOARDS = 20


@database_sync_to_async
def is_team_member(user_id: int, team_id: int) -> bool:
    from server.game.models import TeamMembership

    return TeamMembership.objects.filter(player_id=user_id, team_id=team_id).exists()


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.groups_joined = [MAP_GROUP]
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            self.groups_joined.append(user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "authenticated": len(self.groups_joined) > 1})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data):
        """Malformed JSON is answered with an error instead of dropping the connection."""
        try:
            return json.loads(text_data)
        except ValueError:
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
        from server.game import boards

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
            name = boards.validate(str(content["board"]))
        except boards.BoardNameError as exc:
            await self.error("invalid_board", str(exc))
            return
        if name.startswith("team-") and not await is_team_member(user.pk, int(name[5:])):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if name == "weekly":
            from django.utils import timezone

            name = boards.resolve(name, timezone.now())
        group = boards.group_for(name)
        if kind == "subscribe":
            if group not in self.groups_joined and len(self.groups_joined) >= MAX_BOARDS + 2:
                await self.error("too_many_subscriptions", f"At most {MAX_BOARDS} boards per socket.")
                return
            if group not in self.groups_joined:
                self.groups_joined.append(group)
                await self.channel_layer.group_add(group, self.channel_name)
        elif group in self.groups_joined:
            self.groups_joined.remove(group)
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.send_json({"type": f"{kind}d", "board": name})

    async def recording_update(self, event):
        await self.send_json(event)

    async def observation_created(self, event):
        await self.send_json(event)

    # game messages (server.game.push)
    async def observation_accepted(self, event):
        await self.send_json(event)

    async def points_awarded(self, event):
        await self.send_json(event)

    async def badge_earned(self, event):
        await self.send_json(event)

    async def level_up(self, event):
        await self.send_json(event)

    async def quest_progress(self, event):
        await self.send_json(event)

    async def leaderboard_changed(self, event):
        await self.send_json(event)

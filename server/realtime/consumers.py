"""WebSocket endpoint ``/ws/v1/events/``: a player's outcomes and the live map feed.

Authenticate with ``?token=<api token>`` (phones) or the session cookie (browser). Anonymous
clients receive only the public map feed.
"""
from __future__ import annotations

import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import MAP_GROUP, user_group


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
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "error": {"code": "unsupported_message",
                                                              "message": "Only 'ping' is accepted."}})

    async def recording_update(self, event):
        await self.send_json(event)

    async def observation_created(self, event):
        await self.send_json(event)

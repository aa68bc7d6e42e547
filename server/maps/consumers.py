"""``/ws/map/``: subscribe to a bbox, receive new or changed observations inside it.

Client → server: ``{"type": "subscribe", "bbox": [west, south, east, north]}`` (or the string
``"w,s,e,n"``), optionally ``"species": ["label", ...]``; ``{"type": "unsubscribe"}``;
``{"type": "ping"}``. Server → client: ``{"type": "subscribed", "bbox": [...]}``,
``{"type": "observation.created" | "observation.changed", "observation": <GeoJSON Feature>}``, and
``{"type": "error", "error": {"code", "message"}}`` for malformed messages (the socket stays open).
Positions are obscured where required: only researchers and the owner get the true one, and only they
receive obscured observations at all (a live push would date them to the second).
"""
from __future__ import annotations

import json
import math

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .live import groups_for_bbox

MAX_SPECIES = 50


class SubscriptionError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def parse_bbox_message(raw) -> tuple[float, float, float, float]:
    """A bbox from a subscription message; raises :class:`SubscriptionError`."""
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        raise SubscriptionError("invalid_bbox", "bbox must be [west, south, east, north].")
    try:
        west, south, east, north = (float(v) for v in raw)
    except (TypeError, ValueError):
        raise SubscriptionError("invalid_bbox", "bbox values must be numbers.") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise SubscriptionError("invalid_bbox", "bbox values must be finite.")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise SubscriptionError("invalid_bbox", "bbox coordinates are out of range.")
    if west >= east or south >= north:
        raise SubscriptionError("invalid_bbox", "bbox must have west < east and south < north.")
    return west, south, east, north


def parse_species(raw) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_SPECIES or not all(isinstance(s, str) for s in raw):
        raise SubscriptionError("invalid_filter", f"species must be a list of 1 to {MAX_SPECIES} labels.")
    return frozenset(raw)


class MapConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.groups_joined: list[str] = []
        self.bbox: tuple[float, float, float, float] | None = None
        self.species: frozenset[str] | None = None
        user = self.scope.get("user")
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        self.researcher = bool(user is not None and user.is_authenticated and getattr(user, "can_research", False))
        await self.accept()
        await self.send_json({"type": "hello", "authenticated": self.user_id is not None,
                              "researcher": self.researcher})

    async def disconnect(self, code):
        await self._leave()

    async def _leave(self) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined, self.bbox = [], None

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except (ValueError, RecursionError):  # nesting past the interpreter's limit is malformed too
            return None

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "error": {"code": code, "message": message}})

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.error("invalid_message", "Messages are JSON objects with a 'type'.")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "unsubscribe":
            await self._leave()
            await self.send_json({"type": "unsubscribed"})
        elif kind == "subscribe":
            try:
                bbox = parse_bbox_message(content.get("bbox"))
                species = parse_species(content.get("species"))
            except SubscriptionError as exc:
                await self.error(exc.code, str(exc))
                return
            await self._leave()
            self.bbox, self.species = bbox, species
            self.groups_joined = groups_for_bbox(*bbox)
            for group in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
            await self.send_json({"type": "subscribed", "bbox": list(bbox), "groups": len(self.groups_joined)})
        else:
            await self.error("unsupported_message", "Use 'subscribe', 'unsubscribe' or 'ping'.")

    async def map_observation(self, event):
        """A pushed observation: pick the position this client may see, then filter by bbox."""
        privileged = self.researcher or (self.user_id is not None and event.get("owner_id") == self.user_id)
        feature = event["true"] if privileged else event["public"]
        if self.bbox is None or feature is None:  # None: obscured, not pushed to this client (live.map_message)
            return
        lng, lat = feature["geometry"]["coordinates"]
        w, s, e, n = self.bbox
        if not (w <= lng <= e and s <= lat <= n):
            return
        if self.species is not None and feature["properties"]["species"] not in self.species:
            return
        feature = dict(feature, properties=dict(feature["properties"], obscured=event["obscured"] and not privileged))
        await self.send_json({"type": event["event"], "observation": feature})

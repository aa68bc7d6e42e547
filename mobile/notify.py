"""Phone notifications for "quest done" and "new species nearby", opt-in (off until the player turns
them on), from the realtime messages of ``docs/realtime.md``.

* ``quest.progress`` with ``completed`` on the player's own stream → "Quest done", once per quest;
* ``observation.created`` on the live map socket (``/ws/map/``, subscribed to a box around the
  player) of a species the player has not recorded yet → "New species nearby", once per species
  and session, with its distance. The map socket sends everyone only public points, so a sensitive
  species' place is never sharpened here.

Sending goes through plyer's ``notification`` (Android's notification manager; Android 13+ asks the
``POST_NOTIFICATIONS`` permission when the player opts in). A sender that fails is reported once in
``last_error`` and never interrupts the message stream.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

OPT_IN_KEY = "notifications"
EARTH_RADIUS_M = 6_371_008.8
Sender = Callable[[str, str], None]


def plyer_sender(title: str, message: str) -> None:
    from plyer import notification  # type: ignore[import-not-found]

    notification.notify(title=title, message=message, app_name="Dawn Chorus", timeout=10)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_text(metres: float) -> str:
    return f"{metres:.0f} m away" if metres < 1000 else f"{metres / 1000:.1f} km away"


def quest_done(message: dict) -> tuple[str, str] | None:
    """("Quest done", text) for a completed ``quest.progress``, else None."""
    if message.get("type") != "quest.progress" or not message.get("completed"):
        return None
    quest = message.get("quest") if isinstance(message.get("quest"), dict) else {}
    title = str(quest.get("title") or "A quest")
    target = message.get("target")
    team = " with your team" if message.get("team") else ""
    return "Quest done", f"{title}: {target} of {target} found{team}." if target else f"{title} is complete{team}."


def new_species_nearby(message: dict, known: set[str], here: tuple[float, float] | None) -> tuple[str, str, str] | None:
    """(label, "New species nearby", text) for an ``observation.created`` of a species not in ``known``."""
    if message.get("type") != "observation.created":
        return None
    feature = message.get("observation") if isinstance(message.get("observation"), dict) else {}
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    label = props.get("species")
    if not isinstance(label, str) or not label or label in known:
        return None
    name = str(props.get("common_name") or label)
    where = ""
    try:
        lng, lat = feature["geometry"]["coordinates"][:2]
        if here is not None:
            where = " " + distance_text(distance_m(here[0], here[1], float(lat), float(lng))) + "."
    except (KeyError, TypeError, ValueError, IndexError):
        pass
    return label, "New species nearby", f"{name} was just recorded near you and is not on your list yet.{where}"


class Notifier:
    """Turns realtime messages into notifications when the player has opted in (stored in ``store``)."""

    def __init__(self, store, send: Sender | None = None, known_species: Callable[[], Iterable[str]] = tuple,
                 position: Callable[[], tuple[float, float] | None] = lambda: None):
        self.store, self.send = store, send or plyer_sender
        self.known_species, self.position = known_species, position
        self._quests: set = set()
        self._species: set[str] = set()
        self.last_error = ""

    @property
    def enabled(self) -> bool:
        return self.store.get(OPT_IN_KEY) == "on"

    def set_enabled(self, on: bool) -> None:
        if on:
            self.store.set(OPT_IN_KEY, "on")
        else:
            self.store.delete(OPT_IN_KEY)

    def on_message(self, message: dict) -> tuple[str, str] | None:
        """Notify for this message if it calls for it; returns what was sent (None: nothing)."""
        if not self.enabled or not isinstance(message, dict):
            return None
        note = quest_done(message)
        if note is not None:
            quest = (message.get("quest") or {}).get("id") if isinstance(message.get("quest"), dict) else None
            if quest in self._quests:
                return None
            self._quests.add(quest)
            return self._send(*note)
        nearby = new_species_nearby(message, set(self.known_species()), self.position())
        if nearby is not None and nearby[0] not in self._species:
            self._species.add(nearby[0])
            return self._send(nearby[1], nearby[2])
        return None

    def _send(self, title: str, text: str) -> tuple[str, str] | None:
        try:
            self.send(title, text)
        except Exception as exc:  # noqa: BLE001 - no notification service: the app carries on
            if not self.last_error:
                self.last_error = f"Notifications cannot be shown on this device ({exc})."
            return None
        return title, text

"""The field client's state and actions, free of Kivy: sign-in, region, record, mark, identify, queue.

Screens call these methods and display the results; tests drive the same object without a window.
Every failure a player can meet comes back as :class:`UserError` (code + human message) and
leaves a safe state: the take stays in memory, queued items stay queued.
"""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .api import ApiClient, ApiError, Connectivity
from .identify import Identification, display_name, identify, segment_of
from .modelstore import REGIONS, ModelDownloadError, ModelStore, Region
from .notify import Notifier
from .offline_queue import ACCEPTED, OfflineQueue, QueueFull, QueueItem
from .permissions import request_notifications
from .realtime import EventListener
from .recorder import MarkController, RecordController, Take
from .services.audio_out import wav_bytes
from .services.base import ServiceUnavailable
from .services.factory import Services
from .services.headset import headset_has_microphone
from .services.mic_hub import MicrophoneHub, MicTap
from .uploader import DrainResult, Uploader

TOKEN_KEY = "api_token"
TOKEN_STOCK_KEY = "session_tokens"
TOKEN_STOCK_SIZE = 3
USER_KEY = "username"
APP_VERSION = "0.7.0"
# The licences a player may choose for a recording (the server's record_terms.LICENSES), default first
LICENCE_CHOICES = (("cc-by-nc-4.0", "CC BY-NC 4.0"), ("cc-by-4.0", "CC BY 4.0"), ("cc0-1.0", "CC0 1.0"))
SOUND_RATINGS = ("A", "B", "C", "D", "E")  # A best, as xeno-canto rates
NEARBY_BOX_DEG = 0.02   # the live map box for "new species nearby": about 2 km each way


class UserError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class FieldClient:
    def __init__(self, data_dir: str | Path, server_url: str, services: Services,
                 connectivity: Connectivity | None = None):
        self.data_dir = Path(data_dir)
        self.services = services
        self.store = services.secure_store
        self.api = ApiClient(server_url, token=self.store.get(TOKEN_KEY), connectivity=connectivity or Connectivity())
        self.queue = OfflineQueue(self.data_dir / "queue")
        self.models = ModelStore(self.data_dir / "models")
        self.uploader = Uploader(self.queue, self.api)
        self.mic_hub = MicrophoneHub(services.microphone)   # the recorder and the adaptive mix share it
        self.recorder = RecordController(self.mic_hub.tap())
        self.mark: MarkController | None = None
        self.identification: Identification | None = None
        self.notices: list[tuple[str, str]] = [("info", n) for n in services.notes]  # (level, text)
        self.feed: list[dict] = []  # realtime messages, newest last
        self.listeners: list[Callable[[dict], None]] = []
        self._events: EventListener | None = None
        self._lock = threading.Lock()
        self._classifier = None
        self.notifier = Notifier(self.store, services.notify, known_species=self.own_species,
                                 position=self._position)
        self._nearby: EventListener | None = None

    # --- notices and state ----------------------------------------------------------------
    def notify(self, level: str, text: str) -> None:
        self.notices.append((level, text))

    @property
    def signed_in(self) -> bool:
        return bool(self.api.token)

    @property
    def username(self) -> str:
        return self.store.get(USER_KEY) or ""

    @property
    def online(self) -> bool:
        return self.api.connectivity.online

    def set_online(self, online: bool) -> None:
        self.api.connectivity.online = online

    # --- onboarding -----------------------------------------------------------------------
    def _signed_in_as(self, data: dict, username: str) -> None:
        self.store.set(TOKEN_KEY, data["token"])
        self.store.set(USER_KEY, username)
        self.store.delete(TOKEN_STOCK_KEY)
        self.refill_session_tokens()

    def login(self, username: str, password: str) -> None:
        if not username.strip() or not password:
            raise UserError("missing_credentials", "Enter your user name and password.")
        try:
            self._signed_in_as(self.api.login(username.strip(), password), username.strip())
        except ApiError as exc:
            raise UserError(exc.code, exc.message) from None

    def register(self, username: str, password: str, email: str = "") -> None:
        if not username.strip() or not password:
            raise UserError("missing_credentials", "Choose a user name and a password.")
        try:
            self._signed_in_as(self.api.register(username.strip(), password, email), username.strip())
        except ApiError as exc:
            detail = "; ".join(str(v) for v in exc.fields.values()) if exc.fields else ""
            raise UserError(exc.code, exc.message + (f" ({detail})" if detail else "")) from None

    def sign_out(self) -> None:
        self.stop_realtime()
        self._forget_token()

    def _forget_token(self) -> None:
        self.api.token = None
        self.store.delete(TOKEN_KEY)

    def _socket_sign_in_refused(self) -> None:
        """The websocket refused the token (expired or revoked): the listener has ended itself."""
        self._events = None
        self._forget_token()
        self.notify("error", "Your sign-in has expired. Please sign in again; your recordings stay in the queue.")

    @property
    def regions(self) -> tuple[Region, ...]:
        return REGIONS

    def choose_region(self, region: Region) -> list[str]:
        """Save the region and fetch its species pack and the current model; returns what happened."""
        self.models.set_region(region)
        done: list[str] = []
        try:
            n = self.models.update_species_pack(self.api, region)
            done.append(f"Species pack for {region.name}: {n} species.")
        except (ApiError, ModelDownloadError) as exc:
            kept = "the previous list stays in use" if self.models.has_downloaded_pack else "the bundled list is used"
            done.append(f"Species pack not updated ({exc.message.rstrip('.')}); {kept}.")
        try:
            n = self.models.update_prior(self.api, region)
            done.append(f"Where and when species are heard: {n} observation{'' if n == 1 else 's'} "
                        "guide identification.")
        except ApiError as exc:
            done.append(f"Local species list not updated ({exc.message.rstrip('.')}); identification uses "
                        "the model alone or the previous list.")
        try:
            info = self.models.update_model(self.api)
            self._classifier = None
            done.append(f"Identification model {info.get('version') or info['sha256'][:12]} ready (checksum verified).")
        except (ApiError, ModelDownloadError) as exc:
            done.append(f"Model not updated: {exc.message}")
        for line in done:
            self.notify("info", line)
        return done

    @property
    def classifier(self):
        if self._classifier is None:
            self._classifier = self.models.classifier()
        return self._classifier

    # --- record / mark / identify ---------------------------------------------------------
    # Recording session tokens (anti-cheat): one per take, fetched when recording starts. A small
    # stock fetched while online lets takes recorded offline carry one too (tokens live for hours).
    def _stock(self) -> list[dict]:
        try:
            stock = json.loads(self.store.get(TOKEN_STOCK_KEY) or "[]")
        except ValueError:
            return []
        now = datetime.now(timezone.utc).isoformat()
        return [t for t in stock if isinstance(t, dict) and t.get("token") and str(t.get("expires_at", "")) > now]

    def refill_session_tokens(self, target: int = TOKEN_STOCK_SIZE) -> int:
        stock = self._stock()
        try:
            while len(stock) < target:
                data = self.api.session_token()
                if not data:
                    break
                stock.append({"token": data["token"], "expires_at": str(data.get("expires_at", ""))})
        except (ApiError, KeyError, TypeError):
            pass
        self.store.set(TOKEN_STOCK_KEY, json.dumps(stock))
        return len(stock)

    def _take_session_token(self) -> str | None:
        if self.signed_in and self.online:
            try:
                data = self.api.session_token()
                if data and data.get("token"):
                    return str(data["token"])
            except ApiError:
                pass
        stock = self._stock()
        token = stock.pop(0)["token"] if stock else None
        self.store.set(TOKEN_STOCK_KEY, json.dumps(stock))
        return token  # None: the uploader asks for one at upload time

    def start_recording(self) -> None:
        token = self._take_session_token()
        self.mark = self.identification = None
        self.recorder.start(session_token=token)

    def stop_recording(self) -> Take:
        take = self.recorder.stop()
        if take is None or take.duration_s < 0.5:
            self.recorder.discard()
            raise UserError("take_too_short", "Nothing usable was recorded. Hold Record a little longer.")
        self.mark = MarkController(take, self.services.audio_out)
        return take

    def discard(self) -> None:
        self.recorder.discard()
        self.mark = self.identification = None

    def identify(self) -> Identification:
        if self.mark is None:
            raise UserError("no_take", "Record something first.")
        take = self.mark.take
        segment = segment_of(take.samples, take.sample_rate, self.mark.start_s, self.mark.end_s)
        pack = self.models.species_pack()
        bands = {label: tuple(e["band_hz"]) for label, e in pack.items() if e.get("band_hz")}
        self.identification = identify(self.classifier, segment, take.sample_rate, bands,
                                       prior_weights=self.prior_weights(take.started_at))
        return self.identification

    def prior_weights(self, when_ts: float) -> dict[str, float] | None:
        """The location/date prior at the current position and the take's date; None without a
        downloaded prior or a position (identification then uses the model alone)."""
        prior = self.models.prior()
        if prior is None:
            return None
        try:
            fix = self.services.location.current()
        except ServiceUnavailable:
            return None
        try:
            return prior.weights(fix.lat, fix.lng, datetime.fromtimestamp(when_ts, tz=timezone.utc).date())
        except ValueError:
            return None

    def species_choices(self) -> list[tuple[str, str]]:
        """(label, display name) of every species the model knows, for "pick another"."""
        pack = self.models.species_pack()
        return [(lab, display_name(lab, pack)) for lab in self.classifier.labels]

    def save(self, label: str, confidence: float | None = None, licence: str = LICENCE_CHOICES[0][0],
             rating: str = "") -> QueueItem:
        """Queue the take with the player's label ("unknown" allowed), the licence they chose (a code of
        :data:`LICENCE_CHOICES`) and an optional sound-quality rating (A–E); never uploads by itself."""
        if licence not in {code for code, _ in LICENCE_CHOICES}:
            raise UserError("invalid_license", "Choose one of the offered licences.")
        if rating and rating not in SOUND_RATINGS:
            raise UserError("invalid_rating", "The sound quality is a letter from A (best) to E.")
        if self.mark is None:
            raise UserError("no_take", "Record something first.")
        try:
            fix = self.services.location.current()
        except ServiceUnavailable as exc:
            raise UserError(exc.code, exc.message) from None
        take, ident = self.mark.take, self.identification
        if confidence is None and ident is not None and label == ident.label:
            confidence = ident.confidence
        key = f"dc-{uuid.uuid4().hex}"
        meta = {
            "idempotency_key": key,
            "recorded_at": datetime.fromtimestamp(take.started_at, tz=timezone.utc).isoformat(),
            "location": {"lat": round(fix.lat, 7), "lng": round(fix.lng, 7), "accuracy_m": float(fix.accuracy_m)},
            "segment": {"start_s": self.mark.start_s, "end_s": self.mark.end_s},
            "identification": {"label": label, "confidence": None if confidence is None else round(float(confidence), 4),
                               "model_version": ident.model_version if ident else self.classifier.version},
            "device": {"app": f"dawnchorus-{APP_VERSION}", "channels": take.channels,
                       "sample_rate": take.sample_rate},
            "license": licence,
        }
        if rating:
            meta["rating"] = rating
        if take.session_token:
            meta["session_token"] = take.session_token
        try:
            item = self.queue.add(key, wav_bytes(take.samples, take.sample_rate), meta, "wav")
        except QueueFull as exc:
            raise UserError("disk_full", exc.message) from None
        self.mark = self.identification = None
        self.recorder.take = None
        return item

    # --- upload and realtime --------------------------------------------------------------
    def sync(self) -> DrainResult:
        result = self.uploader.drain()
        if result.auth_required:
            self.sign_out()
            self.notify("error", result.message)
        elif not result.offline and self.signed_in:
            self.uploader.refresh()
            self.refill_session_tokens()
        return result

    def _on_event(self, message: dict) -> None:
        with self._lock:
            self.feed.append(message)
            self.uploader.on_event(message)
            if message.get("type") == "recording.update":  # one per outcome (docs/realtime.md)
                if (message.get("recording") or {}).get("status") == "accepted":
                    self.notify("success", "Your entry is on the map!")
            elif message.get("type") == "points.awarded":
                self.notify("success", f"+{message.get('points', 0)} points")
        self.notifier.on_message(message)
        for listener in list(self.listeners):
            listener(message)

    def ambient_microphone(self) -> MicTap | None:
        """The microphone for the soundscape's adaptive mix when the headphones carry one (None otherwise);
        it shares the device with the recorder."""
        return self.mic_hub.tap() if headset_has_microphone() else None

    # --- notifications (opt-in) -----------------------------------------------------------
    def own_species(self) -> set[str]:
        """Labels of the player's accepted takes on this phone (what "new" species are new to)."""
        return {item.label for item in self.queue.in_state(ACCEPTED)}

    def _position(self) -> tuple[float, float] | None:
        try:
            fix = self.services.location.current()
        except ServiceUnavailable:
            return None
        return fix.lat, fix.lng

    def set_notifications(self, on: bool) -> str:
        """Turn "quest done" / "new species nearby" notifications on or off; returns what changed, in words."""
        self.notifier.set_enabled(on)
        if on:
            request_notifications(self._notifications_allowed)
            self.start_nearby()
            return "Notifications on: quests you finish and species new to you recorded nearby."
        self.stop_nearby()
        return "Notifications off."

    def _notifications_allowed(self, granted: bool) -> None:
        """Android's answer to POST_NOTIFICATIONS: a refusal turns the opt-in back off, in words."""
        if not granted:
            self.notifier.set_enabled(False)
            self.stop_nearby()
            self.notify("error", "Notifications are not allowed on this phone; allow them in Settings → Apps → "
                                 "Dawn Chorus → Notifications, then turn them on again.")

    def _nearby_subscription(self) -> list[dict]:
        here = self._position()
        if here is None:
            return []
        lat, lng = here
        d = NEARBY_BOX_DEG
        return [{"type": "subscribe", "bbox": [lng - d, lat - d, lng + d, lat + d]}]

    def start_nearby(self) -> None:
        """Listen to the live map around the player for "new species nearby" (only when opted in)."""
        if not self.notifier.enabled or self._nearby is not None:
            return
        self._nearby = EventListener(lambda: self.api.map_ws_url, self.notifier.on_message, lambda: self.online,
                                     subprotocols=lambda: self.api.ws_subprotocols, greeting=self._nearby_subscription)
        self._nearby.start()

    def stop_nearby(self) -> None:
        if self._nearby is not None:
            self._nearby.stop()
            self._nearby = None

    def start_realtime(self) -> None:
        if not self.signed_in or self._events is not None:
            return
        events = EventListener(lambda: self.api.ws_url, self._on_event, lambda: self.online,
                               subprotocols=lambda: self.api.ws_subprotocols, on_auth_failed=self._socket_sign_in_refused)
        self._events = events
        for board in self.followed_boards:
            events.follow_board(board)
        events.start()  # may end (and clear self._events) at once when the token is refused
        self.start_nearby()

    followed_boards: frozenset = frozenset()

    def follow_board(self, board: str) -> None:
        """Live ``leaderboard.changed`` messages for ``board`` (the one on screen) over the events socket."""
        self.followed_boards = frozenset({board})
        events = self._events
        if events is not None:
            for old in list(events.boards - {board}):
                events.unfollow_board(old)
            events.follow_board(board)

    def stop_realtime(self) -> None:
        self.stop_nearby()
        if self._events is not None:
            self._events.stop()
            self._events = None

    def wait_connected(self, seconds: float) -> bool:
        return self._events is not None and self._events.connected.wait(seconds)

    def close(self) -> None:
        self.stop_realtime()
        self.queue.close()



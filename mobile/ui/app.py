"""The Kivy application: builds the controller and the screens, runs background work off the UI thread."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty

from mobile.controller import FieldClient
from mobile.services.factory import Services, default_services, on_android

KV_DIR = Path(__file__).resolve().parent / "kv"
KV_FILES = ("theme.kv", "onboarding.kv", "record.kv", "identify.kv", "queue.kv", "map.kv",
            "soundscape.kv", "game.kv", "community.kv", "root.kv")
BANNER_SECONDS = 4.0  # a banner stays this long, then fades out
DEFAULT_SERVER = "http://127.0.0.1:8000"


class DawnChorusApp(App):
    title = "Dawn Chorus"
    client: FieldClient = ObjectProperty(None)
    status_text = StringProperty("")
    online = BooleanProperty(True)
    queue_count = NumericProperty(0)
    banner = StringProperty("")
    banner_tone = StringProperty("good")  # info / good / warn / bad (theme.TONES)
    banner_alpha = NumericProperty(1.0)
    synchronous = BooleanProperty(False)  # tests: run background work inline

    def __init__(self, data_dir: str | Path | None = None, server_url: str | None = None,
                 services: Services | None = None, **kw):
        super().__init__(**kw)
        self._data_dir = data_dir
        self._server_url = server_url or os.environ.get("DAWN_SERVER_URL", DEFAULT_SERVER)
        self._services = services
        self.started_at = time.perf_counter()

    def build(self):
        data_dir = Path(self._data_dir or os.environ.get("DAWN_APP_DIR") or self.user_data_dir)
        services = self._services or default_services(data_dir)
        self.client = FieldClient(data_dir, self._server_url, services)
        self.client.listeners.append(lambda m: Clock.schedule_once(lambda _dt: self.on_event(m)))
        from mobile.ui import icons, mapwidget, species_card, widgets  # noqa: F401 - registers the custom widgets
        from mobile.ui.screens import RootLayout

        for name in KV_FILES:
            Builder.load_file(str(KV_DIR / name))

        root = RootLayout()
        first = "record" if self.client.signed_in and self.client.models.region() else \
            ("setup" if self.client.signed_in else "login")
        root.go(first)
        Clock.schedule_interval(self.tick, 5.0)
        if on_android():
            Clock.schedule_interval(self.fl_tick, 60.0)
        from kivy.core.window import Window

        Window.bind(on_touch_down=lambda *_: self.auto_trainer.note_activity())
        if self.client.signed_in:
            self.client.start_realtime()
        self.refresh_status()
        return root

    # --- federated learning in the background ------------------------------------------------
    _fl = None
    _auto = None

    @property
    def fl(self):
        """The one federated-learning client (the Learn screen and the background trainer share it)."""
        if self._fl is None:
            from mobile.fl import FLClient

            c = self.client
            self._fl = FLClient(c.api, c.queue, lambda: c.classifier, c.data_dir / "fl.json",
                                model_for=lambda info: c.models.classifier_for(c.api, info))
        return self._fl

    @property
    def auto_trainer(self):
        if self._auto is None:
            from mobile.fl_schedule import AutoTrainer

            self._auto = AutoTrainer(self.fl, self.client.services.power, on_android())
        return self._auto

    def fl_tick(self, _dt=None) -> None:
        """Every minute on Android: contribute when opted in, charging and idle (off the UI thread)."""
        if self.client.signed_in and self.client.online:
            self.run_bg(self.auto_trainer.tick, lambda _r: self.root.refresh_current(), lambda _e: None)

    def on_pause(self) -> bool:
        """Keep running in the background (uploads and charging-time training go on)."""
        return True

    # --- background work ------------------------------------------------------------------
    def run_bg(self, work: Callable[[], object], done: Callable[[object], None] | None = None,
               failed: Callable[[Exception], None] | None = None) -> None:
        def finish(result=None, error: Exception | None = None):
            if error is not None:
                (failed or self.show_error)(error)
            elif done is not None:
                done(result)
            self.refresh_status()

        if self.synchronous:
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001 - shown to the player
                finish(error=exc)
            else:
                finish(result)
            return

        def run():
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001
                Clock.schedule_once(lambda _dt, e=exc: finish(error=e))
            else:
                Clock.schedule_once(lambda _dt: finish(result))

        threading.Thread(target=run, daemon=True).start()

    def show_error(self, exc: Exception) -> None:
        self.say(getattr(exc, "message", None) or str(exc), "bad")

    # --- the banner: one line at the top that fades out by itself -------------------------------
    _fade = None

    def say(self, text: str, tone: str = "good") -> None:
        """Show ``text`` in the banner; it fades after :data:`BANNER_SECONDS` (a tap clears it at once)."""
        self.banner_tone = tone
        if text == self.banner:
            self.on_banner(self, text)  # the same news again: show it afresh
        self.banner = text

    def on_banner(self, _inst, text: str) -> None:
        from kivy.animation import Animation

        Animation.cancel_all(self, "banner_alpha")
        if self._fade is not None:
            self._fade.cancel()
            self._fade = None
        self.banner_alpha = 1.0
        if text:
            def fade(_dt):
                anim = Animation(banner_alpha=0.0, d=0.6)
                anim.bind(on_complete=lambda *_: self.clear_banner() if self.banner == text else None)
                anim.start(self)

            self._fade = Clock.schedule_once(fade, BANNER_SECONDS)

    def clear_banner(self) -> None:
        self.banner = ""

    def refresh_status(self) -> None:
        c = self.client
        counts = c.queue.counts()
        self.queue_count = counts.get("waiting", 0) + counts.get("uploading", 0)
        self.online = c.online
        self.status_text = ("Online" if c.online else "Offline") + (f" · {self.queue_count} queued"
                                                                    if self.queue_count else "")

    def tick(self, _dt=None) -> None:
        """Every few seconds: upload what is due (in the background)."""
        if self.client.signed_in and self.client.online and not self.synchronous:
            self.run_bg(self.client.sync, lambda _r: self.root.refresh_current())

    def set_online(self, online: bool) -> None:
        self.client.set_online(online)
        self.refresh_status()
        if online:
            self.tick()

    def on_event(self, message: dict) -> None:
        """A realtime message: a banner for the player's own news; the open screen may use it too."""
        kind = message.get("type")
        rec = message.get("recording") or {}
        if kind == "recording.update" and rec.get("status") == "accepted":
            self.say("Your entry is on the map!")
        elif kind == "recording.update" and rec.get("status") == "rejected":
            self.say(f"A recording was rejected: {rec.get('reject_reason') or rec.get('reject_code')}", "bad")
        elif kind == "points.awarded":
            self.say(f"+{message.get('points', 0)} points")
        elif kind in ("badge.earned", "level.up"):
            self.say(message.get("message") or kind.replace(".", " ").capitalize())
        elif kind == "quest.progress" and message.get("completed"):
            self.say(f"Quest done: {(message.get('quest') or {}).get('title', '')}!")
        self.refresh_status()
        if self.root is None:
            return
        screen = self.root.ids.sm.current_screen
        if kind == "leaderboard.changed" or kind == "quest.progress":
            if hasattr(screen, "on_realtime"):
                screen.on_realtime(message)
            return
        self.root.refresh_current()

    def on_stop(self):
        if self.client is not None:
            self.client.close()

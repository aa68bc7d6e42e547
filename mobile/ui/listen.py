"""The Listen tab: one Play button for what is chosen — the live 3-D scene around the player or the
place's artistic mix — for today or a past day; listening modes, the interactive scene's wake/sleep
switch, one species alone, and the scene's volume."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from mobile.ui.common import DawnScreen, app, message_of

SCENE, MIX = "Live scene", "Artistic mix"
TODAY = "Today"


def day_choices(now: datetime | None = None, days: int = 7) -> list[str]:
    """``Today`` and the six UTC days before it as ``YYYY-MM-DD``."""
    now = now or datetime.now(timezone.utc)
    return [TODAY] + [(now - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(1, days)]


class SoundscapeScreen(DawnScreen):
    source = StringProperty(SCENE)
    day = StringProperty(TODAY)
    days = ListProperty(day_choices())
    mode = StringProperty("Constant")
    awake = BooleanProperty(True)  # the interactive scene: playing (True) or asleep until raised
    playing = BooleanProperty(False)
    busy = BooleanProperty(False)
    species = ListProperty(["All species"])
    scene_note = StringProperty("")  # how the scene follows the player: compass, course, headset microphone
    mix = NumericProperty(1.0)
    _controller = None
    _loaded_day: str | None = None
    _watch = None

    @property
    def controller(self):
        if self._controller is None:
            from mobile.soundscape import SoundscapeController

            c = app().client
            self._controller = SoundscapeController(c.api, c.services.location, c.services.compass,
                                                    c.data_dir / "clips")
        return self._controller

    def refresh(self) -> None:
        self.days = day_choices()

    def _day_param(self) -> str | None:
        return None if self.day == TODAY else self.day

    def pick_source(self, name: str) -> None:
        if name != self.source:
            self.stop()
            self.source = name

    def pick_day(self, day: str) -> None:
        if day != self.day:
            self.stop()
            self.day = day

    def set_mode(self, name: str) -> None:
        self.mode = name
        self.controller.set_mode(name)
        self.awake = self.controller.mode.active

    def set_awake(self, awake: bool) -> None:
        """Interactive mode: wake the scene now, or let it sleep until the phone is raised again."""
        self.controller.activate(awake)
        self.awake = awake

    def isolate(self, name: str) -> None:
        self.controller.isolate(None if name == "All species" else name)

    def set_mix(self, value: float) -> None:
        self.mix = value
        self.controller.mix = float(value)

    def toggle(self) -> None:
        """The one Play button: plays (loading first if needed) or stops what is chosen."""
        if self.playing:
            self.stop()
            return
        if self.busy:
            return
        self.busy = True
        ctl, day = self.controller, self._day_param()
        if self.source == MIX:
            self.message = "Fetching the artistic mix…"
            app().run_bg(lambda: (ctl.fetch(day=day) if not ctl.cells else 0, ctl.mix_audio(day))[1],
                         self._play_mix, self._failed)
            return
        if self._loaded_day == self.day and ctl.renderer.sources:
            self._play_scene(len(ctl.renderer.sources))
            return
        self.message = "Fetching the sounds around you…"
        app().run_bg(lambda: ctl.fetch(day=day), self._play_scene, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self.message = message_of(exc)

    def _play_scene(self, n: int) -> None:
        self.busy = False
        self._loaded_day = self.day
        self.species = ["All species"] + self.controller.species()
        if not n:
            self.message = self.controller.status or "No sounds recorded around you yet."
            return
        when = "today" if self.day == TODAY else f"on {self.day}"
        self.message = f"{n} sound{'' if n == 1 else 's'} around you {when}. Headphones on!"
        ctl, services = self.controller, app().client.services
        from mobile.services.headset import headset_has_microphone

        hearing = ctl.start_ambient(services.microphone, headset_has_microphone())  # feeds the adaptive mix
        ambient = ("Your headset's microphone keeps each bird audible above the surroundings." if hearing
                   else ctl.status)
        ctl.play(services.audio_out)
        self.playing = True
        self.scene_note = ambient
        self._watch = Clock.schedule_interval(self._follow, 0.5)

    def _play_mix(self, decoded) -> None:
        self.busy = False
        samples, sr = decoded
        app().client.services.audio_out.play(samples, sr)
        self.playing = True
        self.message = f"The artistic mix of this place, {'today' if self.day == TODAY else self.day}."

    def _follow(self, _dt=None) -> None:
        """While the scene plays: mirror the interactive scene's wake state (raising the phone wakes it)
        and say how directions are known (a silent compass falls back to the course, then to all around)."""
        ctl = self._controller
        if ctl is not None:
            self.awake = ctl.mode.active
            note = getattr(ctl.pointing, "note", "")
            if note and note not in self.scene_note:
                self.scene_note = note

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._controller is not None:
            self._controller.stop()
            self._controller.stop_ambient()
        if self.playing and self.source == MIX:
            app().client.services.audio_out.stop()
        self.playing = False

    def on_leave(self, *args):
        self.stop()

"""What every screen module shares: the running app, error text, the screen base class, clip playback."""
from __future__ import annotations

from typing import Callable

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen


def app() -> App:
    return App.get_running_app()


def message_of(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


class DawnScreen(Screen):
    """A screen with a ``message`` line; ``refresh()`` (when defined) runs on every visit."""

    message = StringProperty("")

    def on_enter(self, *args):
        if hasattr(self, "refresh"):
            self.refresh()


def play_clip(url: str, on_error: Callable[[str], None], on_playing: Callable[[], None] | None = None) -> None:
    """Fetch a public clip (Ogg/Opus or WAV) in the background, decode it and play it on the phone."""
    a = app()

    def fetch():
        from mobile.soundscape import decode_clip

        data = a.client.api.request("GET", url, params={"audio": "wav"}).content  # phones read WAV (mobile/pcm.py)
        return decode_clip(data)

    def done(decoded):
        samples, sr = decoded
        a.client.services.audio_out.play(samples, sr)
        if on_playing is not None:
            on_playing()

    a.run_bg(fetch, done, lambda e: on_error(message_of(e)))

from django.apps import AppConfig


class SoundscapesConfig(AppConfig):
    name = "server.soundscapes"
    label = "soundscapes"
    verbose_name = "Soundscapes"

    def ready(self) -> None:
        from server.recordings.events import recording_analysed

        from .receivers import on_recording_analysed

        recording_analysed.connect(on_recording_analysed, dispatch_uid="soundscapes.recording_analysed")

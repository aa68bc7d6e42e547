from django.apps import AppConfig


class GameConfig(AppConfig):
    name = "server.game"
    label = "game"
    verbose_name = "Game"

    def ready(self) -> None:
        from server.recordings.events import recording_analysed

        from .consequences import on_recording_analysed

        recording_analysed.connect(on_recording_analysed, dispatch_uid="game.recording_analysed")

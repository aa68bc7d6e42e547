from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "server.realtime"
    label = "realtime"

    def ready(self) -> None:
        from server.recordings.events import recording_analysed

        from .outcomes import on_recording_analysed

        recording_analysed.connect(on_recording_analysed, dispatch_uid="realtime.recording_analysed")

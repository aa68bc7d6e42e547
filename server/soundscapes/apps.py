from django.apps import AppConfig


class SoundscapesConfig(AppConfig):
    name = "server.soundscapes"
    label = "soundscapes"
    verbose_name = "Soundscapes"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from server.recordings.events import recording_analysed

        from .receivers import on_observation_deleted, on_recording_analysed

        recording_analysed.connect(on_recording_analysed, dispatch_uid="soundscapes.recording_analysed")
        # a lazy sender: the soundscapes never import the observations' models
        post_delete.connect(on_observation_deleted, sender="observations.Observation",
                            dispatch_uid="soundscapes.observation_deleted")

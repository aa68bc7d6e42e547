from django.apps import AppConfig


class SoundscapesConfig(AppConfig):
    name = "server.soundscapes"
    label = "soundscapes"
    verbose_name = "Soundscapes"

    def ready(self) -> None:
        from server.observations.signals import observation_accepted

        from .receivers import on_observation_accepted

        observation_accepted.connect(on_observation_accepted, dispatch_uid="soundscapes.observation_accepted")

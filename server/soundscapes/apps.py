from django.apps import AppConfig


class SoundscapesConfig(AppConfig):
    name = "server.soundscapes"
    label = "soundscapes"

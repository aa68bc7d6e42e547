from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "server.recordings"
    label = "recordings"
    verbose_name = "Recordings and analysis"

from django.apps import AppConfig


class ObservationsConfig(AppConfig):
    name = "server.observations"
    label = "observations"
    verbose_name = "Observations (the map)"

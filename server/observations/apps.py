from django.apps import AppConfig


class ObservationsConfig(AppConfig):
    name = "server.observations"
    label = "observations"
    verbose_name = "Observations (the map)"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from .models import Observation
        from .services import on_observation_saved

        post_save.connect(on_observation_saved, sender=Observation, dispatch_uid="observations-linkage")

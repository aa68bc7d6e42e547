from django.apps import AppConfig


class SpeciesConfig(AppConfig):
    name = "server.species"
    label = "species"
    verbose_name = "Species catalogue"

    def ready(self) -> None:
        from . import lookup  # noqa: F401 - connects the cache-clearing receivers

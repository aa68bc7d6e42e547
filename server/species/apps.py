from django.apps import AppConfig


class SpeciesConfig(AppConfig):
    name = "server.species"
    label = "species"
    verbose_name = "Species catalogue"

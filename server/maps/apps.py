from django.apps import AppConfig


class MapsConfig(AppConfig):
    name = "server.maps"
    label = "maps"

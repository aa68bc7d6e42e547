from django.apps import AppConfig


class ModelRegistryConfig(AppConfig):
    name = "server.modelregistry"
    label = "modelregistry"

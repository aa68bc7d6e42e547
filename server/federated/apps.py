from django.apps import AppConfig


class FederatedConfig(AppConfig):
    name = "server.federated"
    label = "federated"

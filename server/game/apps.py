from django.apps import AppConfig


class GameConfig(AppConfig):
    name = "server.game"
    label = "game"

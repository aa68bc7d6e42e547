from django.apps import AppConfig


class GameConfig(AppConfig):
    name = "server.game"
    label = "game"
    verbose_name = "Game"

    def ready(self) -> None:
        from server.observations.signals import observation_accepted

        from .consequences import on_observation_accepted

        observation_accepted.connect(on_observation_accepted, dispatch_uid="game.observation_accepted")

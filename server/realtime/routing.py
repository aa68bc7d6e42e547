"""Websocket routes: the realtime app's own, plus ``websocket_urlpatterns`` from any app's routing.py."""
import importlib

from django.conf import settings
from django.urls import path

from .consumers import EventsConsumer

websocket_urlpatterns = [path("ws/v1/events/", EventsConsumer.as_asgi())]


def collect_websocket_urlpatterns() -> list:
    """This module's routes followed by those of every Dawn Chorus app that has ``routing.py``."""
    routes = list(websocket_urlpatterns)
    for app in settings.DAWN_APPS:
        if app == "realtime":
            continue
        try:
            module = importlib.import_module(f"server.{app}.routing")
        except ModuleNotFoundError as exc:
            if exc.name != f"server.{app}.routing":
                raise
            continue
        routes += module.websocket_urlpatterns
    return routes

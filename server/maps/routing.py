"""Websocket routes of the maps app (mounted by server/asgi.py behind token auth)."""
from django.urls import path

from .consumers import MapConsumer

websocket_urlpatterns = [path("ws/map/", MapConsumer.as_asgi())]

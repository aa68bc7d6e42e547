"""API routes of the soundscapes app, mounted under /api/v1/."""
from django.urls import path, re_path

from .views import CellMixView, CellSpecView, ClipView, SoundscapeView

urlpatterns = [
    path("soundscapes/", SoundscapeView.as_view(), name="soundscapes"),
    path("soundscapes/cells/<str:cell>/", CellSpecView.as_view(), name="soundscape-cell"),
    path("soundscapes/cells/<str:cell>/mix/", CellMixView.as_view(), name="soundscape-mix"),
    re_path(r"^soundscapes/clips/(?P<sha256>[0-9a-f]{64})/$", ClipView.as_view(), name="soundscape-clip"),
]

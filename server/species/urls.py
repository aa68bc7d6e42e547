"""API routes of the species app besides the catalogue's router, mounted under /api/v1/."""
from django.urls import re_path

from .views import SpeciesPictureView

urlpatterns = [
    re_path(r"^species/pictures/(?P<name>[0-9a-f]{64}\.(?:png|jpg))$", SpeciesPictureView.as_view(),
            name="species-picture"),
]

"""API routes of the maps app, mounted under /api/v1/."""
from django.urls import path, re_path

from .cell_views import ObscuredCellsView
from .clip_views import PublicClipView
from .config_views import MapConfigView
from .detail_views import ObservationAudioView, ObservationDetailView, SpectrogramView
from .export_views import ExportDownloadView, ExportJobCreateView, ExportJobView, SyncExportView
from .species_views import AbundanceView, FrequencyView, GridView, RouteView, TimeTravelView
from .tile_response import TILE_ROUTE
from .tile_views import TileView

urlpatterns = [
    path("map/config/", MapConfigView.as_view(), name="map-config"),
    re_path(f"^{TILE_ROUTE}", TileView.as_view(), name="map-tile"),
    path("map/observations/<int:pk>/", ObservationDetailView.as_view(), name="map-observation"),
    path("map/observations/<int:pk>/audio/", ObservationAudioView.as_view(), name="map-observation-audio"),
    path("map/observations/<int:pk>/spectrogram.png", SpectrogramView.as_view(),
         name="map-observation-spectrogram"),
    path("clips/<str:token>.ogg", PublicClipView.as_view(), name="public-clip"),
    path("map/species/<str:species>/abundance/", AbundanceView.as_view(), name="map-species-abundance"),
    path("map/species/<str:species>/route/", RouteView.as_view(), name="map-species-route"),
    path("map/species/<str:species>/frequency/", FrequencyView.as_view(), name="map-species-frequency"),
    path("map/species/<str:species>/grid/", GridView.as_view(), name="map-species-grid"),
    path("map/species/<str:species>/timetravel/", TimeTravelView.as_view(), name="map-species-timetravel"),
    path("map/obscured-cells/", ObscuredCellsView.as_view(), name="map-obscured-cells"),
    re_path(r"^map/export\.(?P<suffix>csv|geojson|zip)$", SyncExportView.as_view(), name="map-export"),
    path("map/exports/", ExportJobCreateView.as_view(), name="map-exports"),
    path("map/exports/<uuid:pk>/", ExportJobView.as_view(), name="map-export-job"),
    path("map/exports/<uuid:pk>/download/", ExportDownloadView.as_view(), name="map-export-download"),
]

"""``GET /api/v1/map/config/``: what the browser app needs to start (URLs, role, species)."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.permissions import is_researcher
from server.observations.geoprivacy import CELL_DEGREES
from server.observations.public_reads import counts_per_species, public_extent
from server.species.lookup import filterable_species

from . import generation
from .tilemath import MAX_ZOOM, POINT_ZOOM


def style_url() -> str:
    """An optional MapLibre style URL (vector tiles) for deployments with a tile server (``settings.MAP_STYLE_URL``,
    from ``DAWN_MAP_STYLE_URL``); it replaces the offline basemap and ``basemap_url``."""
    return settings.MAP_STYLE_URL


def data_summary() -> dict:
    """``extent``: [west, south, east, north] of every observation's public position (the first view fits it),
    or None; ``counts``: observations per species id. Cached per map data generation (every observation write
    bumps it), so a page load does not scan the table each time."""
    key = f"map-config-summary:{generation.scope()}:{generation.current()}"
    summary = cache.get(key)
    if summary is None:
        box = public_extent()
        summary = {"extent": [round(v, 6) for v in box] if box else None, "counts": counts_per_species()}
        cache.set(key, summary)
    return summary


def basemap_url() -> str:
    """An optional raster/vector tile URL template for deployments with a basemap server
    (``settings.MAP_BASEMAP_URL``, from ``DAWN_MAP_BASEMAP_URL``); empty means the bundled offline basemap."""
    return settings.MAP_BASEMAP_URL


class MapConfigView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        user = request.user
        summary = data_summary()
        counts = summary["counts"]
        # the filter's entries: every taxon and city-sound class observed, with its rank (a soundscape names
        # no taxon and no class, so it is no filter)
        species = filterable_species(counts)
        return Response({
            "tile_url": request.build_absolute_uri("/api/v1/map/tiles/") + "{z}/{x}/{y}.mvt",
            "style_url": style_url(), "basemap_url": basemap_url(), "extent": summary["extent"],
            "max_zoom": MAX_ZOOM, "point_zoom": POINT_ZOOM,
            "cell_degrees": CELL_DEGREES,  # an obscured observation is drawn as this cell (webmap/src/cells.js)
            "websocket_path": "/ws/map/",
            "user": {"authenticated": user.is_authenticated, "username": getattr(user, "username", ""),
                     "researcher": is_researcher(user)},
            "species": [{"id": s.pk, "label": s.label, "common_name": s.common_name,
                         "scientific_name": s.scientific_name, "count": counts[s.pk],
                         "sensitive": s.sensitive, "rank": s.rank, "kind": s.kind} for s in species],
        })

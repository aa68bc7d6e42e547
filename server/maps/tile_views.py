"""``GET /api/v1/map/tiles/{z}/{x}/{y}.mvt``: cached, ETagged vector tiles."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from . import generation
from .negotiation import AlwaysJson
from .tile_response import MVT_TYPE, etag_matches, parse_tile_request, tile_etag, tile_headers
from .tiles import PUBLIC, audience_for, render_tile

MAP_FILTER_PARAMS = [
    OpenApiParameter("species", OpenApiTypes.STR, description="comma-separated labels, scientific names or ids"),
    OpenApiParameter("date_from", OpenApiTypes.STR, description="ISO date or date-time (UTC)"),
    OpenApiParameter("date_to", OpenApiTypes.STR, description="ISO date or date-time (UTC), inclusive"),
    OpenApiParameter("time_from", OpenApiTypes.STR, description="time of day HH:MM (UTC); may wrap midnight"),
    OpenApiParameter("time_to", OpenApiTypes.STR, description="time of day HH:MM (UTC), inclusive"),
    OpenApiParameter("grade", OpenApiTypes.STR, description="quality grades: casual, needs_id, research"),
    OpenApiParameter("min_confidence", OpenApiTypes.NUMBER, description="0..1, model confidence"),
    OpenApiParameter("type", OpenApiTypes.STR, description="recording types, e.g. song,call"),
    OpenApiParameter("source", OpenApiTypes.STR, description="app, xeno-canto"),
]


class TileView(APIView):
    """Mapbox Vector Tile of observations: clusters below zoom 16, points from zoom 16."""

    permission_classes = [AllowAny]
    content_negotiation_class = AlwaysJson

    def perform_authentication(self, request) -> None:
        """Lazy: only point tiles ask who is asking (cluster tiles are the same for everyone)."""

    @extend_schema(
        parameters=MAP_FILTER_PARAMS,
        responses={(200, MVT_TYPE): OpenApiTypes.BINARY, 304: OpenApiResponse(description="Not modified"),
                   400: OpenApiResponse(description="invalid_tile or invalid_filter")},
        description="Layer `clusters` (count, species, species_count, mix) below zoom 16, layer `points` "
                    "(id, species, status, confidence, observed_at, obscured) from zoom 16. Clusters hold "
                    "un-obscured observations only. Positions are "
                    "obscured for sensitive species except for researchers and the owner. Send "
                    "If-None-Match with the ETag to get 304.",
    )
    def get(self, request, z: str, x: str, y: str):
        tile, filters = parse_tile_request(z, x, y, request.query_params)
        audience = audience_for(request.user) if not tile.clustered else PUBLIC
        etag = tile_etag(tile.z, tile.x, tile.y, filters.canonical(), audience.key, generation.current())
        headers = tile_headers(etag, public=audience is PUBLIC)
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            return HttpResponse(status=304, content_type=MVT_TYPE, headers=headers)
        data = generation.get_tile(etag)
        if data is None:
            data = render_tile(tile, filters, audience)
            generation.put_tile(etag, data)
        return HttpResponse(data, content_type=MVT_TYPE, headers=headers)

"""Observation queries: GeoJSON, paginated, filtered; true coordinates only for the privileged."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.permissions import AllowAny
from rest_framework_gis.pagination import GeoJsonPagination

from server.common.permissions import is_researcher

from .filters import DEPRECATED_GRADE_PARAM, GRADE_PARAM, apply_filters, uses_deprecated_grade_name
from .models import Observation
from .serializers import ObservationSerializer


class ObservationPagination(GeoJsonPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_paginated_response_schema(self, schema: dict) -> dict:
        """rest_framework_gis renames ``results`` to ``features`` but leaves ``results`` in ``required``."""
        out = super().get_paginated_response_schema(schema)
        out["required"] = ["type", "count", "features"]
        return out


FILTER_PARAMS = [
    OpenApiParameter("bbox", OpenApiTypes.STR, description="minLng,minLat,maxLng,maxLat (WGS84)"),
    OpenApiParameter("species", OpenApiTypes.STR, description="comma-separated labels, scientific names or ids"),
    OpenApiParameter("date_from", OpenApiTypes.STR, description="ISO date or date-time (UTC)"),
    OpenApiParameter("date_to", OpenApiTypes.STR, description="ISO date or date-time (UTC), inclusive"),
    OpenApiParameter(GRADE_PARAM, OpenApiTypes.STR, description="quality grades: casual, needs_id, research "
                     "(comma-separated)"),
    OpenApiParameter(DEPRECATED_GRADE_PARAM, OpenApiTypes.STR, deprecated=True,
                     description="Deprecated alias of grade, kept for one release; an answer to a query that "
                                 "names it carries the header Deprecation: true. With grade, both must ask for "
                                 "the same grades (else 400 invalid_filter)."),
    OpenApiParameter("source", OpenApiTypes.STR, description="app, xeno-canto"),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1..1000, default 100"),
    OpenApiParameter("Deprecation", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                     description="true when the query used a deprecated parameter (status)"),
]


@extend_schema_view(list=extend_schema(parameters=FILTER_PARAMS))
class ObservationViewSet(viewsets.ReadOnlyModelViewSet):
    """The map's observations. Sensitive species are obscured for the public (0.2° cell)."""

    serializer_class = ObservationSerializer
    pagination_class = ObservationPagination
    permission_classes = [AllowAny]

    def get_queryset(self):
        user = self.request.user
        geo_field = "location" if is_researcher(user) else "public_location"
        qs = Observation.objects.select_related("species").order_by("-observed_at", "-id")
        if self.action == "list":
            qs = apply_filters(qs, self.request.query_params, geo_field, coarse=not is_researcher(user))
        return qs

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if uses_deprecated_grade_name(request.query_params):
            response["Deprecation"] = "true"
        return response

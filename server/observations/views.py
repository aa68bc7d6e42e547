"""Observation queries: GeoJSON, paginated, filtered; true coordinates only for the privileged."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework_gis.pagination import GeoJsonPagination

from server.common.errors import ApiError
from server.common.permissions import is_researcher

from .filters import DEPRECATED_GRADE_PARAM, GRADE_PARAM, apply_filters, uses_deprecated_grade_name
from .models import Observation
from .serializers import ObservationSerializer, RecordTermsSerializer


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
    OpenApiParameter("rating", OpenApiTypes.STR, description="sound-quality ratings A (best) to E, comma-separated; "
                     "- for unrated (else 400 invalid_rating)"),
    OpenApiParameter("background", OpenApiTypes.STR, description="scientific names heard in the background "
                     "(comma-separated; any of them)"),
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

    @extend_schema(request=RecordTermsSerializer, responses={
        200: ObservationSerializer,
        400: OpenApiResponse(description="invalid_license, invalid_rating, invalid_background_species"),
        403: OpenApiResponse(description="permission_denied: the licence is the recordist's to choose; rating "
                                         "and background species are the recordist's or a researcher's"),
        404: OpenApiResponse(description="not_found")},
        description="Change a record's terms. The recordist (the observing player) may set license (cc0-1.0, "
                    "cc-by-4.0, cc-by-nc-4.0), rating (A best to E) and background_species; researchers and "
                    "admins, as reviewers, may set rating and background_species. All or nothing.")
    @action(detail=True, methods=["patch"], url_path="terms", url_name="terms",
            permission_classes=[IsAuthenticated])
    def terms(self, request, pk=None):
        if not (str(pk).isascii() and str(pk).isdigit() and len(str(pk)) <= 18):
            raise ApiError("not_found", "No such observation.", status.HTTP_404_NOT_FOUND)
        with transaction.atomic():
            obs = Observation.objects.select_for_update().filter(pk=int(pk)).first()
            if obs is None:
                raise ApiError("not_found", "No such observation.", status.HTTP_404_NOT_FOUND)
            serializer = RecordTermsSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            changes = serializer.validated_data
            owner = obs.observer_id is not None and obs.observer_id == request.user.pk
            if "license" in changes and not owner:
                raise ApiError("permission_denied", "Only the recordist chooses the record's licence.",
                               status.HTTP_403_FORBIDDEN)
            if not (owner or is_researcher(request.user)):
                raise ApiError("permission_denied", "Only the recordist or a researcher may change this record.",
                               status.HTTP_403_FORBIDDEN)
            for name, value in changes.items():
                setattr(obs, name, value)
            if changes:
                obs.save(update_fields=list(changes))
        obs = Observation.objects.select_related("species").get(pk=obs.pk)
        return Response(ObservationSerializer(obs, context={"request": request}).data)

"""Species views: abundance over time (per day or week) and the time-ordered route."""
from __future__ import annotations

from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncWeek
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.permissions import is_researcher
from server.common.strict_json import text_problem
from server.observations.filters import parse_bbox
from server.observations.models import Observation
from server.observations.publication import public_cell, published_instant, shown_time
from server.species.models import Species

from .filters import MapFilters, apply_map_filters, parse_map_filters
from .tile_views import MAP_FILTER_PARAMS

MAX_ROUTE_POINTS = 5000
BBOX_PARAM = OpenApiParameter("bbox", OpenApiTypes.STR, description="minLng,minLat,maxLng,maxLat (WGS84)")


def species_or_404(key: str) -> Species:
    """The species named by label, scientific name or id; 404 ``unknown_species`` otherwise (a key
    with a NUL character or a lone surrogate names no species and never reaches the database)."""
    if text_problem(key):
        raise ApiError("unknown_species", "No such species.", status_code=404)
    q = Q(label=key) | Q(scientific_name=key)
    if key.isdigit():
        q |= Q(pk=int(key))
    species = Species.objects.filter(q).first()
    if species is None:
        raise ApiError("unknown_species", f"No species {key!r}.", status_code=404)
    return species


def species_queryset(request, species: Species, geo_field: str):
    params = request.query_params.copy()
    params.pop("species", None)
    filters: MapFilters = parse_map_filters(params)
    qs = apply_map_filters(Observation.objects.filter(species=species), filters,
                           coarse=not is_researcher(request.user))
    if request.query_params.get("bbox"):
        qs = qs.filter(**{f"{geo_field}__intersects": parse_bbox(request.query_params["bbox"])})
    return qs


class AbundanceView(APIView):
    """Observations of one species per day or week (UTC)."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("interval", OpenApiTypes.STR, enum=["day", "week"]), BBOX_PARAM,
                               *[p for p in MAP_FILTER_PARAMS if p.name != "species"]],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, species: str):
        sp = species_or_404(species)
        interval = request.query_params.get("interval", "week")
        if interval not in ("day", "week"):
            raise ApiError("invalid_filter", "interval must be 'day' or 'week'.", fields={"interval": interval})
        trunc = TruncDay if interval == "day" else TruncWeek
        qs = species_queryset(request, sp, "public_location")
        rows = (qs.order_by().annotate(period=trunc("observed_at")).values("period")
                .annotate(count=Count("id")).order_by("period"))
        series = [{"period": r["period"].date().isoformat(), "count": r["count"]} for r in rows]
        return Response({"species": sp.label, "common_name": sp.common_name, "interval": interval,
                         "total": sum(r["count"] for r in series), "series": series})


class RouteView(APIView):
    """Past observations of a species ordered in time, as points and one linking LineString (GeoJSON)."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[BBOX_PARAM, *[p for p in MAP_FILTER_PARAMS if p.name != "species"],
                               OpenApiParameter("limit", OpenApiTypes.INT, description=f"1..{MAX_ROUTE_POINTS}")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, species: str):
        sp = species_or_404(species)
        raw_limit = request.query_params.get("limit", str(MAX_ROUTE_POINTS))
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_ROUTE_POINTS:
            raise ApiError("invalid_filter", f"limit must be 1..{MAX_ROUTE_POINTS}.", fields={"limit": raw_limit})
        researcher = is_researcher(request.user)
        uid = request.user.id if request.user.is_authenticated else None
        geo_field = "location" if researcher else "public_location"
        # for the public in published-time order: an obscured point's place in the line must not date it
        order = ("observed_at", "id") if researcher else (published_instant(), "id")
        qs = species_queryset(request, sp, geo_field).order_by(*order)[: int(raw_limit)]
        features, line = [], []
        for obs in qs.only("id", "location", "public_location", "observed_at", "date_precision", "observer_id",
                           "status", "obscured"):
            privileged = researcher or (uid is not None and obs.observer_id == uid)
            withheld = obs.obscured and not privileged
            p = obs.location if privileged else obs.public_location
            coords = [round(p.x, 6), round(p.y, 6)]
            line.append(coords)
            observed_at, precision = shown_time(obs, withheld)
            props = {"id": obs.pk, "observed_at": observed_at, "date_precision": precision, "grade": obs.status,
                     "obscured": withheld}
            if withheld:
                props["cell"] = public_cell(obs)
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": coords},
                             "properties": props})
        if len(line) >= 2:
            features.insert(0, {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line},
                                "properties": {"kind": "route", "species": sp.label, "points": len(line)}})
        return Response({"type": "FeatureCollection", "species": sp.label, "features": features})

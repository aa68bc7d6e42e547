"""Species views: abundance over time (per day or week), the eBird-style frequency over the year (share of
observations per ISO week, all years pooled, with every year counted), a gridded abundance layer over
public positions, the time-ordered route, and the Time travel scenario's waypoints."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, F, FloatField, Func
from django.db.models.functions import ExtractWeek, ExtractYear, Floor, TruncDay, TruncWeek
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.permissions import is_researcher
from server.common.strict_json import text_problem
from server.observations.filters import parse_bbox
from server.observations.geoprivacy import CELL_DEGREES
from server.observations.public_reads import all_observations
from server.observations.publication import public_cell, published_instant, shown_time
from server.species.lookup import species_by_key

from server.game.scenarios.timetravel import route_observations, story

from .filters import MapFilters, apply_map_filters, parse_map_filters
from .tile_views import MAP_FILTER_PARAMS

if TYPE_CHECKING:
    from server.species.models import Species

MAX_ROUTE_POINTS = 5000
BBOX_PARAM = OpenApiParameter("bbox", OpenApiTypes.STR, description="minLng,minLat,maxLng,maxLat (WGS84)")


def species_or_404(key: str) -> Species:
    """The species named by label, scientific name or id; 404 ``unknown_species`` otherwise (a key
    with a NUL character or a lone surrogate names no species and never reaches the database)."""
    if text_problem(key):
        raise ApiError("unknown_species", "No such species.", status_code=404)
    species = species_by_key(key)
    if species is None:
        raise ApiError("unknown_species", f"No species {key!r}.", status_code=404)
    return species


def filtered_observations(request, geo_field: str):
    """Every observation the request's map filters (``species`` aside) and ``bbox`` keep; time filters see an
    obscured observation's date only unless the asker is a researcher."""
    params = request.query_params.copy()
    params.pop("species", None)
    filters: MapFilters = parse_map_filters(params)
    qs = apply_map_filters(all_observations(), filters, coarse=not is_researcher(request.user))
    if request.query_params.get("bbox"):
        qs = qs.filter(**{f"{geo_field}__intersects": parse_bbox(request.query_params["bbox"])})
    return qs


def species_queryset(request, species: Species, geo_field: str):
    return filtered_observations(request, geo_field).filter(species=species)


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


def _x(field: str):
    return Func(F(field), function="ST_X", output_field=FloatField())


def _y(field: str):
    return Func(F(field), function="ST_Y", output_field=FloatField())


class FrequencyView(APIView):
    """How often the species is recorded through the year, as eBird's frequency charts: per ISO week (1–53,
    every week listed, zeros included) the species' observations, all observations kept by the same filters
    and bbox, and the share (0 where that week has none), all years pooled; and per year, from the first to the
    last year any filtered observation has, the species' count (zeros included). Weeks and years are those of
    the UTC date (an obscured observation's published date)."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[BBOX_PARAM, *[p for p in MAP_FILTER_PARAMS if p.name != "species"]],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, species: str):
        sp = species_or_404(species)
        everything = filtered_observations(request, "public_location").order_by()
        ours = everything.filter(species=sp)

        def per(qs, key, expr) -> dict[int, int]:
            return {r[key]: r["n"] for r in qs.annotate(**{key: expr}).values(key).annotate(n=Count("id"))}

        ours_week, all_week = per(ours, "week", ExtractWeek("observed_at")), per(everything, "week", ExtractWeek("observed_at"))
        weeks = [{"week": w, "count": ours_week.get(w, 0), "all": all_week.get(w, 0),
                  "share": round(ours_week.get(w, 0) / all_week[w], 4) if all_week.get(w) else 0.0}
                 for w in range(1, 54)]
        all_years = per(everything, "year", ExtractYear("observed_at"))
        ours_years = per(ours, "year", ExtractYear("observed_at"))
        years = ([{"year": y, "count": ours_years.get(y, 0), "all": all_years.get(y, 0)}
                  for y in range(min(all_years), max(all_years) + 1)] if all_years else [])
        return Response({"species": sp.label, "common_name": sp.common_name, "total": sum(ours_week.values()),
                         "weeks": weeks, "years": years})


class GridView(APIView):
    """The species' observations counted per grid cell of ``CELL_DEGREES`` (the geoprivacy cell) over public
    positions only, for everyone: GeoJSON polygons with ``count``, and the largest count as ``max``."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[BBOX_PARAM, *[p for p in MAP_FILTER_PARAMS if p.name != "species"]],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, species: str):
        sp = species_or_404(species)
        rows = (species_queryset(request, sp, "public_location").order_by()
                .annotate(cx=Floor(_x("public_location") / CELL_DEGREES), cy=Floor(_y("public_location") / CELL_DEGREES))
                .values("cx", "cy").annotate(n=Count("id")))
        features = []
        for r in rows:
            west, south = round(r["cx"] * CELL_DEGREES, 6), round(r["cy"] * CELL_DEGREES, 6)
            east, north = round(west + CELL_DEGREES, 6), round(min(south + CELL_DEGREES, 90.0), 6)
            features.append({"type": "Feature", "properties": {"count": r["n"]}, "geometry": {
                "type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]]}})
        return Response({"type": "FeatureCollection", "species": sp.label, "cell_degrees": CELL_DEGREES,
                         "max": max((f["properties"]["count"] for f in features), default=0), "features": features})


class TimeTravelView(APIView):
    """The waypoints of the game's Time travel scenario for this species, as every player gets them: its
    oldest observations in time order (``route_observations``), each at its public position with the story
    everyone may read. A game's order of visits, not the path of a bird."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, species: str):
        sp = species_or_404(species)
        features = []
        for step, obs in enumerate(route_observations(sp), start=1):
            p = obs.public_location
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(p.x, 6), round(p.y, 6)]},
                             "properties": {"step": step, **story(obs)}})
        if len(features) >= 2:
            features.insert(0, {"type": "Feature", "properties": {"kind": "timetravel"}, "geometry": {
                "type": "LineString", "coordinates": [f["geometry"]["coordinates"] for f in features]}})
        return Response({"type": "FeatureCollection", "species": sp.label, "features": features})

"""``GET /api/v1/map/obscured-cells/``: the grid cells that hold obscured observations, for the map to draw
at every zoom (an obscured observation is shown as its cell, never as a point)."""
from __future__ import annotations

from collections import Counter

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from server.observations.geoprivacy import cell_bounds

from .filters import parse_map_filters
from .species_views import BBOX_PARAM, filtered_observations
from .tile_views import MAP_FILTER_PARAMS

MAX_OBSCURED = 20000  # observations read per request; beyond it the answer says ``truncated``


def obscured_cells(rows) -> list[dict]:
    """``rows`` of (id, public lng, public lat, species label) → one GeoJSON polygon per 0.2° cell holding
    any, with ``count``, the cell's most frequent ``species``, and the observations' ``ids`` (for popups).
    The cell of a public point is the cell of its true point, so it says no more than the point does."""
    cells: dict[tuple, dict] = {}
    for pk, lng, lat, label in rows:
        bounds = cell_bounds(lat, lng)
        cell = cells.setdefault(bounds, {"ids": [], "species": Counter()})
        cell["ids"].append(pk)
        cell["species"][label] += 1
    out = []
    for (west, south, east, north), cell in sorted(cells.items()):
        out.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]]},
            "properties": {"west": west, "south": south, "east": east, "north": north, "count": len(cell["ids"]),
                           "species": cell["species"].most_common(1)[0][0], "ids": sorted(cell["ids"])}})
    return out


class ObscuredCellsView(APIView):
    """Cells of the obscured observations the map filters (``species`` included) and ``bbox`` keep, over
    public positions, for everyone alike."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[BBOX_PARAM, *MAP_FILTER_PARAMS], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        qs = filtered_observations(request, "public_location").filter(obscured=True)
        species = parse_map_filters({"species": request.query_params.get("species", "")}).species_ids
        if species:
            qs = qs.filter(species_id__in=species)
        rows = [(pk, p.x, p.y, label) for pk, p, label in
                qs.order_by("id").values_list("id", "public_location", "species__label")[: MAX_OBSCURED + 1]]
        return Response({"type": "FeatureCollection", "truncated": len(rows) > MAX_OBSCURED,
                         "features": obscured_cells(rows[:MAX_OBSCURED])})

"""The area cells of a position, so phones need no H3 library to name their local boards."""
from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.errors import ApiError

from ..geo import CELL_RES, REGION_RES, cell_of, region_of


def _coordinate(params, name: str, limit: float) -> float:
    try:
        value = float(params[name])
    except (KeyError, TypeError, ValueError):
        raise ApiError("invalid_coordinates", f"{name} is required as a number.", fields={name: "A number."}) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise ApiError("invalid_coordinates", f"{name} must lie within ±{limit:.0f}.", fields={name: "Out of range."})
    return value


class AreaView(APIView):
    """``{cell, region, boards: {local, regional}}``: the area board names that points scored at this
    position count on (H3 resolution CELL_RES and its REGION_RES parent, as :mod:`server.game.boards`)."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True),
                               OpenApiParameter("lng", OpenApiTypes.DOUBLE, required=True)],
                   responses={200: OpenApiTypes.OBJECT},
                   description=f"The H3 cells (resolution {CELL_RES} and its resolution-{REGION_RES} region) of a "
                               "position and the names of their area leaderboards. Errors: invalid_coordinates.")
    def get(self, request):
        lat = _coordinate(request.query_params, "lat", 90.0)
        lng = _coordinate(request.query_params, "lng", 180.0)
        cell = cell_of(lat, lng)
        region = region_of(cell)
        return Response({"cell": cell, "region": region,
                         "boards": {"local": f"area-{cell}", "regional": f"area-{region}"}})

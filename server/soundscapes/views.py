"""Soundscape API: specs of the cells around a point or of one cell, clips, artistic mixes.

Specs are shared by everyone in a cell and carry ETags (``If-None-Match`` → 304); clips and
mixes are immutable files addressed by their sha256.
"""
from __future__ import annotations

import hashlib
import math

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.phone_audio import audio_response, wants_wav
from server.common.errors import ApiError
from server.platform import storage as files

from .cells import MAX_RADIUS_M, cells_within, is_soundscape_cell, valid_coordinates
from .models import CellMix, Clip
from .serializers import CellSpecSerializer, SoundscapeSerializer
from .services import parse_window, specs_for
from .windows import LIVE

DEFAULT_RADIUS_M = 300.0
DATE_PARAM = OpenApiParameter("date", OpenApiTypes.DATE, description="UTC day to recall; default: last 24 h")
ERRORS = {400: OpenApiResponse(description='{"error": {"code", "message", "fields"}}')}


def _float(params, name: str, code: str, required: bool = True, default: float | None = None) -> float:
    raw = params.get(name)
    if raw in (None, ""):
        if required:
            raise ApiError(code, f"{name} is required.", fields={name: "Required."})
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(code, f"{name} must be a number.", fields={name: "Not a number."}) from None
    if not math.isfinite(value):
        raise ApiError(code, f"{name} must be finite.", fields={name: "Not finite."})
    return value


def _not_modified(request, etag: str) -> bool:
    tags = [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]
    return f'"{etag}"' in tags or etag in tags or "*" in tags


def _with_etag(response, etag: str, cache: str = "no-cache"):
    response["ETag"] = f'"{etag}"'
    response["Cache-Control"] = cache
    return response


class SoundscapeView(APIView):
    @extend_schema(
        summary="Soundscape specs of the cells around a point",
        parameters=[OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True),
                    OpenApiParameter("lng", OpenApiTypes.DOUBLE, required=True),
                    OpenApiParameter("radius", OpenApiTypes.DOUBLE,
                                     description=f"metres, 1–{MAX_RADIUS_M:.0f}, default {DEFAULT_RADIUS_M:.0f}"),
                    DATE_PARAM],
        responses={200: SoundscapeSerializer, 304: OpenApiResponse(description="Not modified"), **ERRORS})
    def get(self, request):
        q = request.query_params
        lat = _float(q, "lat", "invalid_coordinates")
        lng = _float(q, "lng", "invalid_coordinates")
        if not valid_coordinates(lat, lng):
            raise ApiError("invalid_coordinates", "lat must be in [-90, 90] and lng in [-180, 180].",
                           fields={"lat": "Out of range."} if abs(lat) > 90 else {"lng": "Out of range."})
        radius = _float(q, "radius", "invalid_radius", required=False, default=DEFAULT_RADIUS_M)
        if radius <= 0:
            raise ApiError("invalid_radius", "radius must be positive (metres).", fields={"radius": "Not positive."})
        if radius > MAX_RADIUS_M:
            raise ApiError("radius_too_large", f"radius is limited to {MAX_RADIUS_M:.0f} m.",
                           fields={"radius": f"At most {MAX_RADIUS_M:.0f}."})
        window = parse_window(q.get("date"))
        cells = specs_for(cells_within(lat, lng, radius), window)
        etag = hashlib.sha256((window + "|" + ",".join(c["etag"] for c in cells)).encode()).hexdigest()[:32]
        if _not_modified(request, etag):
            return _with_etag(HttpResponse(status=304), etag)
        return _with_etag(Response({"window": window, "radius_m": radius, "cells": cells}), etag)


class CellSpecView(APIView):
    @extend_schema(summary="The soundscape spec of one H3 cell (resolution 8)", parameters=[DATE_PARAM],
                   responses={200: CellSpecSerializer, 304: OpenApiResponse(description="Not modified"), **ERRORS})
    def get(self, request, cell: str):
        if not is_soundscape_cell(cell):
            raise ApiError("invalid_cell", f"{cell!r} is not an H3 cell at resolution 8.", fields={"cell": "Unknown."})
        spec = specs_for([cell], parse_window(request.query_params.get("date")))[0]
        if _not_modified(request, spec["etag"]):
            return _with_etag(HttpResponse(status=304), spec["etag"])
        return _with_etag(Response(spec), spec["etag"])


class ClipView(APIView):
    @extend_schema(summary="A soundscape clip (Ogg/Opus), immutable",
                   responses={(200, "audio/ogg"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="Unknown clip")})
    def get(self, request, sha256: str):
        clip = Clip.objects.filter(sha256=sha256).first()
        if clip is None:
            raise ApiError("not_found", "No such clip.", status_code=404)
        return _file(request, clip.path, clip.sha256)


class CellMixView(APIView):
    @extend_schema(summary="The artistic mix of a busy cell for a UTC day (Ogg/Opus, −16 LUFS)",
                   parameters=[OpenApiParameter("date", OpenApiTypes.DATE, description="UTC day; default today")],
                   responses={(200, "audio/ogg"): OpenApiTypes.BINARY, **ERRORS,
                              404: OpenApiResponse(description="No mix for that cell and day")})
    def get(self, request, cell: str):
        if not is_soundscape_cell(cell):
            raise ApiError("invalid_cell", f"{cell!r} is not an H3 cell at resolution 8.", fields={"cell": "Unknown."})
        window = parse_window(request.query_params.get("date"))
        day = timezone.now().date() if window == LIVE else window
        mix = CellMix.objects.filter(cell=cell, day=day).first()
        if mix is None:
            raise ApiError("mix_not_found", f"No artistic mix for {cell} on {day}.", status_code=404)
        return _file(request, mix.path, mix.sha256)


def _file(request, rel: str, sha: str):
    tag = f"{sha}-wav" if wants_wav(request) else sha   # ?audio=wav: the phones' PCM rendition
    if _not_modified(request, tag):
        return _with_etag(HttpResponse(status=304), tag, "public, max-age=31536000, immutable")
    try:
        fh = files.open_file(rel)
    except (OSError, ValueError):
        raise ApiError("not_found", "The file is missing.", status_code=404) from None
    response = audio_response(request, fh, "audio/ogg", etag=f'"{tag}"', sha256=sha)
    return _with_etag(response, tag, "public, max-age=31536000, immutable")

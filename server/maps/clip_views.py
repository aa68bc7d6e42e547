"""The public clip of an observation, by its random token: the one audio anyone may fetch."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from server.common.phone_audio import audio_response
from server.common.errors import ApiError
from server.observations import public_clips

from .negotiation import AlwaysJson

CACHE_CONTROL = "public, max-age=86400"


class PublicClipView(APIView):
    """The clip named by ``token`` (Ogg/Opus: the marked segment, speech muted, no tags). Unknown
    tokens, and clips whose observation's licence no longer allows publishing, are 404 ``not_found``.
    Byte ranges as :mod:`server.common.byte_ranges` (206, or 416 ``range_not_satisfiable``); ``?audio=wav``
    answers the phones' PCM rendition (:mod:`server.common.phone_audio`)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    content_negotiation_class = AlwaysJson

    @extend_schema(summary="An observation's public audio clip (Ogg/Opus)",
                   responses={(200, "audio/ogg"): OpenApiTypes.BINARY, (206, "audio/ogg"): OpenApiTypes.BINARY,
                              404: OpenApiResponse(description="not_found: no such clip"),
                              416: OpenApiResponse(description="range_not_satisfiable")})
    def get(self, request, token: str):
        obs = public_clips.observation_for_token(token)
        fh = public_clips.open_clip(obs) if obs is not None else None
        if fh is None:
            raise ApiError("not_found", "No such clip.", status_code=404)
        response = audio_response(request, fh, public_clips.CONTENT_TYPE)   # ?audio=wav for phones
        response["Cache-Control"] = CACHE_CONTROL
        return response

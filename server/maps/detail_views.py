"""Observation detail for the map popup, its audio and its cached spectrogram PNG."""
from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ml.runtime.audio import AudioError
from server.common.errors import ApiError
from server.observations.models import Observation

from .detail import observation_detail
from .media import audio_file, content_type, spectrogram_png
from .negotiation import AlwaysJson


def observation_or_404(pk: int) -> Observation:
    obs = (Observation.objects.select_related("species", "recording", "observer").filter(pk=pk).first())
    if obs is None:
        raise ApiError("not_found", f"No observation {pk}.", status_code=404)
    return obs


def audio_or_404(obs: Observation):
    path = audio_file(obs)
    if path is None:
        raise ApiError("audio_unavailable", "No audio is available for this observation.", status_code=404)
    return path


class ObservationDetailView(APIView):
    """Everything the popup shows: species, place (obscured where required), grade, identifications,
    model and confidence, recordist and licence, audio and spectrogram URLs."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        return Response(observation_detail(observation_or_404(pk), request.user, request.build_absolute_uri))


class ObservationAudioView(APIView):
    """The observation's audio (speech already muted at ingest)."""

    permission_classes = [AllowAny]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "audio/*"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        path = audio_or_404(observation_or_404(pk))
        response = FileResponse(path.open("rb"), content_type=content_type(path))
        response["Cache-Control"] = "public, max-age=86400"
        return response


class SpectrogramView(APIView):
    """A PNG spectrogram of the observation's audio, rendered once and cached under MEDIA_ROOT."""

    permission_classes = [AllowAny]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        path = audio_or_404(observation_or_404(pk))
        try:
            png = spectrogram_png(path)
        except AudioError as exc:
            raise ApiError(exc.code, str(exc), status_code=422) from None
        response = FileResponse(png.open("rb"), content_type="image/png")
        response["Cache-Control"] = "public, max-age=86400"
        return response

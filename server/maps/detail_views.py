"""Observation detail for the map popup, its audio and its cached spectrogram PNG.

The audio route serves the private recording only to those who may hear it (see
:class:`ObservationAudioView`); the popup plays the public clip, and the spectrogram is drawn from it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ml.runtime.audio import AudioError
from server.common.errors import ApiError
from server.common.permissions import is_researcher
from server.observations import public_clips
from server.observations.public_reads import observation_with_relations
from server.platform import storage as files
from server.recordings.private_audio import CACHE_CONTROL, original_response, tag_free_response

from .detail import observation_detail
from .media import audio_file, spectrogram_png
from .negotiation import AlwaysJson

if TYPE_CHECKING:
    from server.observations.models import Observation


def observation_or_404(pk: int) -> Observation:
    obs = observation_with_relations(pk)
    if obs is None:
        raise ApiError("not_found", f"No observation {pk}.", status_code=404)
    return obs


def unavailable() -> ApiError:
    return ApiError("audio_unavailable", "No audio is available for this observation.", status_code=404)


def is_owner(user, obs: Observation) -> bool:
    """``user`` uploaded the recording behind ``obs`` (imported observations have no owner here)."""
    return obs.recording_id is not None and obs.recording.owner_id == user.pk


class ObservationDetailView(APIView):
    """Everything the popup shows: species, place (obscured where required), grade, identifications,
    model and confidence, recordist and licence, audio and spectrogram URLs."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        return Response(observation_detail(observation_or_404(pk), request.user, request.build_absolute_uri))


class ObservationAudioView(APIView):
    """The observation's recording, private: its owner gets the stored bytes (speech muted at
    analysis), researchers and admins a FLAC copy without the upload's tags. Anyone else is
    redirected (302) to the public clip, or gets 404 ``audio_unavailable`` where there is none.
    Every answer is ``Cache-Control: private``."""

    permission_classes = [AllowAny]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "audio/*"): OpenApiTypes.BINARY,
                              302: OpenApiResponse(description="Not yours: the public clip's URL"),
                              404: OpenApiResponse(description="audio_unavailable or not_found")})
    def get(self, request, pk: int):
        obs = observation_or_404(pk)
        if is_owner(request.user, obs) or is_researcher(request.user):
            source = audio_file(obs)
            if source is None:
                raise unavailable()
            name = f"observation-{obs.pk}"
            return (original_response(request, source, name) if is_owner(request.user, obs)
                    else tag_free_response(request, source, name))
        clip = public_clips.clip_url(obs)
        if clip is None:
            raise unavailable()
        response = HttpResponseRedirect(clip)
        response["Cache-Control"] = CACHE_CONTROL
        return response


class SpectrogramView(APIView):
    """A PNG spectrogram of the observation's public clip, rendered once and cached in the file store;
    404 ``audio_unavailable`` where there is no clip."""

    permission_classes = [AllowAny]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        clip = public_clips.clip_name(observation_or_404(pk))
        if clip is None:
            raise unavailable()
        try:
            png = spectrogram_png(clip)
        except AudioError as exc:
            raise ApiError(exc.code, str(exc), status_code=422) from None
        response = FileResponse(files.open_file(png), content_type="image/png")
        response["Cache-Control"] = "public, max-age=86400"
        return response

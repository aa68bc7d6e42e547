"""Community identification, data-quality votes and the researchers' review queue."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.permissions import IsResearcher
from server.maps.negotiation import AlwaysJson
from server.observations import player_reads
from server.observations.publication import is_withheld, shown_observed_at

from .. import id_history, identifications, review
from ..serializers import IdentificationSerializer, QualityVoteSerializer, ReviewLabelSerializer
from .common import awarding, body, clip_response


def grade_json(result) -> dict:
    return {"status": result.status, "community_taxon": result.community_taxon, "agreeing": result.agreeing,
            "identifications": result.total}


class IdentificationsView(APIView):
    throttle_scope = "identification"

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="The identification history: every identification (withdrawn ones with "
                               "current=false and withdrawn_at), every change of the observation's species "
                               "(cause community, review or propagated), the review label, the data-quality "
                               "tallies and what the asking user may do (viewer). Open to everyone; it holds no "
                               "position, time or recordist.")
    def get(self, request, pk: int):
        obs = player_reads.observation(pk, with_species=True)
        if obs is None:
            raise ApiError("not_found", "No such observation.", status.HTTP_404_NOT_FOUND)
        return Response(id_history.history(obs, request.user))

    @extend_schema(request=IdentificationSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Agree or suggest a species (level 2). A suggestion of another species than "
                               "one's current identification withdraws that one. When at least 2 identifications "
                               "(the observer's claim counts) agree by more than 2/3, their taxon becomes the "
                               "observation's species and it is research grade. Errors: own_observation (403), "
                               "already_identified (409), agree_mismatch, unknown_species, level_too_low (403).")
    def post(self, request, pk: int):
        data = body(IdentificationSerializer, request)
        with awarding() as batch:
            ident, result = identifications.identify(request.user, pk, data["species"], data["kind"], batch)
        species = player_reads.species_label(pk)
        return Response({"id": ident.pk, "species": ident.species.label, "kind": ident.kind,
                         "observation_species": species, "grade": grade_json(result)},
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Withdraw one's current identification (it stays in the history). "
                               "Errors: not_found (404, no current identification).")
    def delete(self, request, pk: int):
        with awarding() as batch:
            result = identifications.withdraw(request.user, pk, batch)
        species = player_reads.species_label(pk)
        return Response({"observation_species": species, "grade": grade_json(result)})


class QualityVoteView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "identification"

    @extend_schema(request=QualityVoteSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Data-quality vote (date, location, wild, audible); a metric with at least "
                               "DAWN_DQA_MIN_VOTES_AGAINST 'no' votes and more 'no' than 'yes' makes the "
                               "observation casual. Errors: own_observation (403), already_voted (409), "
                               "level_too_low (403).")
    def post(self, request, pk: int):
        data = body(QualityVoteSerializer, request)
        with awarding() as batch:
            result = identifications.vote_quality(request.user, pk, data["metric"], data["agrees"], batch)
        return Response({"grade": grade_json(result)}, status=status.HTTP_201_CREATED)


class IdentifyQueueView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Others' observations that need an identification: audio and public position only.")
    def get(self, request):
        if not identifications.may_identify(request.user):
            raise ApiError("level_too_low", "Identifying needs level 2.", status.HTTP_403_FORBIDDEN)
        qs = (player_reads.needing_identification(request.user)
              .exclude(identifications__identifier=request.user)[:50])
        return Response({"results": [{
            "observation": o.pk, "species": o.species.label, "status": o.status, "obscured": o.obscured,
            "lat": o.public_location.y, "lng": o.public_location.x,
            "observed_at": shown_observed_at(o, is_withheld(o, request.user)),
            "audio_url": reverse("game-identify-audio", args=[o.pk], request=request)} for o in qs]})


class IdentifyAudioView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "audio/*"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        if not identifications.may_identify(request.user):
            raise ApiError("level_too_low", "Identifying needs level 2.", status.HTTP_403_FORBIDDEN)
        obs = player_reads.recorded(pk)
        if obs is None:
            raise ApiError("not_found", "No such recorded observation.", status.HTTP_404_NOT_FOUND)
        return clip_response(request, obs)


class ReviewQueueView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Unreviewed recordings, medoids of the largest embedding clusters first "
                               "(k-medoids, k ≈ N/3, farthest-first), uncertain ones next; each with its "
                               "recording's private audio and a spectrogram of its marked segment.")
    def get(self, request):
        entries = review.build_queue()
        return Response({"results": [{
            "observation": e["observation"].pk, "species": e["observation"].species.label,
            "common_name": e["observation"].species.common_name, "observed_at": e["observation"].observed_at,
            "status": e["observation"].status,
            "confidence": e["observation"].confidence, "is_medoid": e["is_medoid"], "cluster": e["cluster"],
            "cluster_size": e["cluster_size"], "medoid": e["medoid"].pk, "uncertainty": e["uncertainty"],
            "audio_url": reverse("recording-audio", args=[e["observation"].recording_id], request=request),
            "spectrogram_url": reverse("review-spectrogram", args=[e["observation"].pk], request=request)}
            for e in entries]})


class ReviewLabelView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=ReviewLabelSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Label an observation: the label sets its species and makes it research grade; "
                               "propagate=true copies it to the medoid's cluster (marked propagated: species set, "
                               "grade by the usual rules). Each result names the species and grade it replaced. "
                               "Errors: unknown_species (400), permission_denied (403, not a researcher), "
                               "not_found (404), already_reviewed (409).")
    def post(self, request):
        data = body(ReviewLabelSerializer, request)
        with awarding() as batch:
            labels = review.label(request.user, data["observation"], data["species"], data["propagate"], batch)
        grades = player_reads.statuses(lab.observation_id for lab in labels)
        return Response({"results": [{"observation": lab.observation_id, "species": lab.species.label,
                                      "propagated": lab.propagated, "status": grades[lab.observation_id],
                                      "previous_species": lab.previous_species.label if lab.previous_species
                                      else None, "previous_status": lab.previous_status} for lab in labels]},
                        status=status.HTTP_201_CREATED)


class ReviewSpectrogramView(APIView):
    """A spectrogram of a recording's marked segment for the review page (researchers only)."""

    permission_classes = [IsResearcher]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY},
                   description="PNG of the marked segment of the private recording (time to the right, pitch "
                               "upwards, 0–12 kHz). Errors: not_found (404), audio_unavailable (404).")
    def get(self, request, pk: int):
        obs = player_reads.recorded(pk)
        if obs is None:
            raise ApiError("not_found", "No such recorded observation.", status.HTTP_404_NOT_FOUND)
        try:
            png = review.segment_spectrogram_png(obs)
        except (OSError, ValueError):
            raise ApiError("audio_unavailable", "The recording's audio cannot be read.",
                           status.HTTP_404_NOT_FOUND) from None
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response

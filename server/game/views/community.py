"""Community identification, data-quality votes and the researchers' review queue."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.permissions import IsResearcher
from server.observations.models import Observation, Status
from server.observations.publication import is_withheld, published_instant, shown_observed_at

from .. import identifications, review
from ..models import Identification
from ..serializers import IdentificationSerializer, QualityVoteSerializer, ReviewLabelSerializer
from .common import awarding, body, clip_response


def grade_json(result) -> dict:
    return {"status": result.status, "community_taxon": result.community_taxon, "agreeing": result.agreeing,
            "identifications": result.total}


class IdentificationsView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "identification"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        obs = Observation.objects.select_related("species").filter(pk=pk).first()
        if obs is None:
            raise ApiError("not_found", "No such observation.", status.HTTP_404_NOT_FOUND)
        idents = Identification.objects.filter(observation=obs).select_related("species", "identifier")
        return Response({"observation": obs.pk, "status": obs.status,
                         "grade": grade_json(identifications.current_grade(obs)),
                         "results": [{"id": i.pk, "identifier": i.identifier.username, "species": i.species.label,
                                      "kind": i.kind, "created_at": i.created_at} for i in idents]})

    @extend_schema(request=IdentificationSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Agree or suggest a species (level 2). Errors: own_observation (403), "
                               "already_identified (409), agree_mismatch, level_too_low (403).")
    def post(self, request, pk: int):
        data = body(IdentificationSerializer, request)
        with awarding() as batch:
            ident, result = identifications.identify(request.user, pk, data["species"], data["kind"], batch)
        return Response({"id": ident.pk, "species": ident.species.label, "kind": ident.kind,
                         "grade": grade_json(result)}, status=status.HTTP_201_CREATED)


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
        qs = (Observation.objects.filter(recording__isnull=False, status=Status.NEEDS_ID,
                                         public_clip_token__isnull=False)
              .exclude(observer=request.user).exclude(identifications__identifier=request.user)
              .select_related("species").order_by(published_instant().desc(), "-id")[:50])
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
        obs = Observation.objects.filter(pk=pk, recording__isnull=False).first()
        if obs is None:
            raise ApiError("not_found", "No such recorded observation.", status.HTTP_404_NOT_FOUND)
        return clip_response(request, obs)


class ReviewQueueView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Unreviewed recordings, medoids of the largest embedding clusters first "
                               "(k-medoids, k ≈ N/3, farthest-first), uncertain ones next.")
    def get(self, request):
        entries = review.build_queue()
        return Response({"results": [{
            "observation": e["observation"].pk, "species": e["observation"].species.label,
            "confidence": e["observation"].confidence, "is_medoid": e["is_medoid"], "cluster": e["cluster"],
            "cluster_size": e["cluster_size"], "medoid": e["medoid"].pk, "uncertainty": e["uncertainty"],
            "audio_url": reverse("recording-audio", args=[e["observation"].recording_id], request=request)}
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
        grades = dict(Observation.objects.filter(pk__in=[lab.observation_id for lab in labels])
                      .values_list("pk", "status"))
        return Response({"results": [{"observation": lab.observation_id, "species": lab.species.label,
                                      "propagated": lab.propagated, "status": grades[lab.observation_id],
                                      "previous_species": lab.previous_species.label if lab.previous_species
                                      else None, "previous_status": lab.previous_status} for lab in labels]},
                        status=status.HTTP_201_CREATED)

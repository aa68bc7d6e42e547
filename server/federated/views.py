"""Federated API: enrolment, the phone's task, update submission, and rounds for researchers."""
from __future__ import annotations

import json

from django.db.models import Count
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.parsers import StrictJSONParser
from server.common.permissions import IsResearcher

from . import secagg, services
from .models import Enrollment, Round
from .serializers import (EnrollmentSerializer, RoundSerializer, SecAggAckSerializer, SecAggKeysSerializer,
                          SecAggRevealSerializer, SecAggSharesSerializer, TaskResponseSerializer,
                          UpdateRequestSerializer, UpdateResponseSerializer)
from .tasks import enqueue_aggregation

MAX_UPDATE_BYTES = 8 * 1024 * 1024
ROUND_UNKNOWN = {404: OpenApiResponse(description="round_unknown: no such round")}


class UpdateJSONParser(StrictJSONParser):
    """Strict JSON, except that a number beyond float range reaches the update's own check as ±inf
    (``update_not_finite``), as it did with DRF's parser."""

    finite_only = False


class EnrollmentView(APIView):
    """Opt in to (or out of) training on this phone."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=EnrollmentSerializer)
    def get(self, request):
        e = Enrollment.objects.filter(user=request.user).first()
        return Response({"opted_in": bool(e and e.opted_in)})

    @extend_schema(request=EnrollmentSerializer, responses=EnrollmentSerializer)
    def post(self, request):
        ser = EnrollmentSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        e = services.set_enrollment(request.user, ser.validated_data["opted_in"])
        return Response({"opted_in": e.opted_in})


class TaskView(APIView):
    """The round this phone was sampled for: model download URL and hash, trainable part,
    hyperparameters, clip norm. ``{"task": null}`` when there is nothing to do."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=TaskResponseSerializer)
    def get(self, request):
        if not Enrollment.objects.filter(user=request.user, opted_in=True).exists():
            return Response({"task": None, "reason": "not_enrolled"})
        task = services.task_for(request.user)
        return Response({"task": task} if task else {"task": None, "reason": "no_round"})


class UpdateView(APIView):
    """Submit the clipped, int8-quantised delta of the trainable part for a round.

    Errors: 404 ``round_unknown``; 403 ``round_not_assigned``; 409 ``update_duplicate``,
    ``update_late``, ``update_wrong_model_version``; 400 ``update_shape_mismatch``,
    ``update_not_finite``, ``update_malformed``, ``update_norm_exceeds_clip``, ``invalid``;
    413 ``update_too_large``."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [UpdateJSONParser]

    @extend_schema(request=UpdateRequestSerializer, responses={201: UpdateResponseSerializer, **ROUND_UNKNOWN})
    def post(self, request):
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        if size > MAX_UPDATE_BYTES:
            raise ApiError("update_too_large", f"Updates are limited to {MAX_UPDATE_BYTES} bytes.", 413)
        body_len = len(request.body) if size == 0 else size
        update, quorum = services.submit_update(request.user, request.data, body_len)
        if quorum:
            enqueue_aggregation(update.round_id)
        return Response({"accepted": True, "round": update.round_id, "norm": update.norm,
                         "payload_bytes": update.payload_bytes}, status=201)


class _SecAggStep(APIView):
    """One secure-aggregation message; errors 404 ``round_unknown``, 403 ``round_not_assigned``,
    409 ``secagg_wrong_phase`` / ``secagg_duplicate`` / ``secagg_not_in_cohort`` / ``update_late``,
    400 ``secagg_not_enabled`` / ``secagg_malformed`` / ``secagg_bad_key`` / ``secagg_bad_shares`` /
    ``secagg_bad_reveal``."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [UpdateJSONParser]

    def handle(self, request):
        raise NotImplementedError

    def post(self, request):
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_UPDATE_BYTES:
            raise ApiError("update_too_large", f"Messages are limited to {MAX_UPDATE_BYTES} bytes.", 413)
        self.handle(request)
        rnd = Round.objects.get(pk=request.data["round"])
        return Response({"accepted": True, "round": rnd.pk, "phase": rnd.secagg_phase if rnd.status == "open"
                         else rnd.status}, status=201)


class SecAggKeysView(_SecAggStep):
    """Phase ``keys``: advertise this phone's two X25519 public keys for the round."""

    @extend_schema(request=SecAggKeysSerializer, responses={201: SecAggAckSerializer, **ROUND_UNKNOWN})
    def post(self, request):
        return super().post(request)

    def handle(self, request):
        secagg.advertise_keys(request.user, request.data)


class SecAggSharesView(_SecAggStep):
    """Phase ``shares``: relay one encrypted share message to each peer through the server."""

    @extend_schema(request=SecAggSharesSerializer, responses={201: SecAggAckSerializer, **ROUND_UNKNOWN})
    def post(self, request):
        return super().post(request)

    def handle(self, request):
        secagg.relay_shares(request.user, request.data)


class SecAggRevealView(_SecAggStep):
    """Phase ``unmask``: a survivor's shares of survivors' self-mask seeds and dropped phones' mask
    keys. Aggregation starts once every survivor revealed (or at the phase deadline with t)."""

    @extend_schema(request=SecAggRevealSerializer, responses={201: SecAggAckSerializer, **ROUND_UNKNOWN})
    def post(self, request):
        return super().post(request)

    def handle(self, request):
        if secagg.reveal(request.user, request.data) == "aggregate":
            enqueue_aggregation(request.data["round"])


class RoundViewSet(viewsets.ReadOnlyModelViewSet):
    """Rounds with their participants, bytes, metrics and (ε, δ) (researchers)."""

    serializer_class = RoundSerializer
    permission_classes = [IsResearcher]

    def get_queryset(self):
        return (Round.objects.select_related("model_version", "result_version")
                .annotate(participants=Count("updates")).order_by("-created_at"))

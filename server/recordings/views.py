"""Recording endpoints: submit (multipart), list/detail (own; researchers see all), audio."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from server.common.errors import ApiError
from server.common.parsers import StrictJSONParser
from server.common.strict_json import JsonRefused, loads_strict
from server.common.permissions import is_researcher

from . import session_token
from .ingest import ingest
from .metadata import RecordingMetadataSerializer
from . import withdraw as recordist_changes
from .models import Recording, Status
from .private_audio import AudioSource, original_response, tag_free_response
from .serializers import RecordingCreatedSerializer, RecordingEditSerializer, RecordingSerializer

GONE = OpenApiResponse(description="recording_withdrawn: its recordist withdrew this recording.")


def parse_metadata(raw) -> dict:
    if raw is None:
        raise ApiError("metadata_missing", "Send the metadata as the multipart field 'metadata' (JSON).")
    if hasattr(raw, "read"):
        raw = raw.read(64 * 1024)
    try:
        data = loads_strict(raw)
    except JsonRefused as exc:
        raise ApiError("invalid_metadata", f"The metadata field is not acceptable JSON: {exc}",
                       fields={f"metadata.{exc.path}" if exc.path else "metadata": exc.reason}) from None
    if not isinstance(data, dict):
        raise ApiError("invalid_metadata", "The metadata must be a JSON object.")
    serializer = RecordingMetadataSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RecordingViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    http_method_names = ["get", "post", "patch", "head", "options"]
    """Players see their own recordings; researchers and admins see all of them, audio included."""

    serializer_class = RecordingSerializer
    throttle_scope: str | None = None  # only the session-token action is throttled (its own scope)
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "PATCH":  # an edit is JSON (the upload is multipart)
            self.parser_classes = [StrictJSONParser]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        qs = Recording.objects.select_related("owner", "claimed_species", "observation__species")
        if not is_researcher(self.request.user):
            qs = qs.filter(owner=self.request.user)
        status_filter = self.request.query_params.get("status")
        if status_filter and self.action == "list":
            qs = qs.filter(status=status_filter)
        elif self.action == "list":  # withdrawn recordings leave the list (?status=withdrawn shows them)
            qs = qs.exclude(status=Status.WITHDRAWN)
        return qs

    @extend_schema(
        request={"multipart/form-data": inline_serializer("RecordingUpload", {
            "audio": serializers.FileField(help_text="WAV, FLAC, Ogg or MP3"),
            "metadata": serializers.CharField(help_text="JSON: RecordingMetadata"),
        })},
        responses={201: RecordingCreatedSerializer, 200: OpenApiResponse(RecordingCreatedSerializer,
                   description="The idempotency key was seen before: the original recording."),
                   410: GONE},
        description="Submit a recording. Metadata JSON: {idempotency_key, recorded_at (UTC ISO-8601), "
                    "location {lat, lng, accuracy_m}, segment {start_s, end_s}, identification "
                    "{label, confidence, model_version}, device {...}}.",
    )
    def create(self, request, *args, **kwargs):
        meta = parse_metadata(request.data.get("metadata"))
        result = ingest(request.user, request.FILES.get("audio"), meta)
        rec = result.recording
        body = {"id": str(rec.id), "status": rec.status, "created": result.created,
                "url": reverse("recording-detail", args=[rec.id], request=request)}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={201: inline_serializer("RecordingSessionToken", {
        "token": serializers.CharField(), "expires_at": serializers.DateTimeField()})},
        description="A signed, single-use token the in-app recorder fetches when recording starts; the upload "
                    "sends it as metadata.session_token.")
    @action(detail=False, methods=["post"], url_path="session-token", url_name="session-token",
            throttle_scope="recording_session")
    def session_token(self, request):
        token, expires = session_token.issue(request.user.pk)
        return Response({"token": token, "expires_at": expires.isoformat()}, status=status.HTTP_201_CREATED)

    @extend_schema(request=RecordingEditSerializer, responses={200: RecordingSerializer, 410: GONE},
                   description="The recordist changes the notes, or the label while the recording waits for "
                               "analysis. Errors: already_analysed (409), recording_withdrawn (410), "
                               "unknown_species, notes_too_long (400), not_found (404: not yours).")
    def partial_update(self, request, pk=None):
        data = RecordingEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rec = recordist_changes.edit(request.user, pk, **data.validated_data)
        return Response(RecordingSerializer(self.get_queryset().get(pk=rec.pk), context={"request": request}).data)

    @extend_schema(request=None, responses={200: inline_serializer("RecordingWithdrawn", {
        "id": serializers.UUIDField(), "status": serializers.CharField(),
        "observation_removed": serializers.IntegerField(allow_null=True)}), 410: GONE},
        description="Withdraw an own recording: off the map (its observation and public clip are removed) and "
                    "out of the list; uploads repeating its idempotency key get recording_withdrawn (410). "
                    "Repeating the call changes nothing.")
    @action(detail=True, methods=["post"], url_path="withdraw", url_name="withdraw")
    def withdraw(self, request, pk=None):
        rec, removed = recordist_changes.withdraw(request.user, pk)
        return Response({"id": str(rec.pk), "status": rec.status, "observation_removed": removed})

    @extend_schema(responses={(200, "audio/*"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="audio", url_name="audio")
    def audio(self, request, pk=None):
        """The owner gets the stored bytes; researchers and admins a FLAC copy without the upload's tags."""
        rec = self.get_object()
        source = AudioSource(stored=rec.audio_path)
        if rec.owner_id == request.user.pk:
            return original_response(request, source, str(rec.pk))
        return tag_free_response(request, source, str(rec.pk))

"""Read-only model registry API: list versions, the current one, and file downloads."""
from __future__ import annotations

from django.http import FileResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from server.common.errors import ApiError

from . import services
from .models import LEGACY_SETS, ModelSet, ModelVersion
from .serializers import ModelVersionSerializer

SET_PARAM = OpenApiParameter("set", str, enum=[ModelSet.FIELD.value, *LEGACY_SETS], description=(
    "Model set: field, the only one (the default). birds and urban, the sets before the field model, "
    "are accepted as aliases of field for older app versions."))


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Published on-device models. Anyone may read them: they carry no personal data."""

    serializer_class = ModelVersionSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "version"
    lookup_value_regex = r"[A-Za-z0-9._:+-]{1,128}"

    def get_queryset(self):
        qs = ModelVersion.objects.select_related("parent")
        if self.request.query_params.get("set") is not None:
            qs = qs.filter(model_set=self._model_set())
        return qs

    def _model_set(self) -> str:
        """``?set=`` read as a set (``field``; the legacy names alias it); 400 ``invalid_model_set`` otherwise."""
        try:
            return services.read_set(self.request.query_params.get("set", ModelSet.FIELD))
        except ValueError as exc:
            raise ApiError("invalid_model_set", str(exc), status_code=400, fields={"set": "unknown"}) from None

    @extend_schema(parameters=[SET_PARAM], responses={
        200: ModelVersionSerializer, 404: OpenApiResponse(description="no_current_model: none published yet")})
    @action(detail=False, methods=["get"])
    def current(self, request):
        """The model a phone should run now, with its download URL and sha256."""
        self._model_set()
        mv = services.current_version()
        if mv is None:
            raise ApiError("no_current_model", "No model is published yet.", status_code=404)
        return Response(self.get_serializer(mv).data, headers={"ETag": f'"{mv.sha256}"'})

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, version=None):
        """The model file's bytes; ETag is its sha256 (``If-None-Match`` gives 304)."""
        mv = self.get_object()
        etag = f'"{mv.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            return HttpResponseNotModified(headers={"ETag": etag})
        try:
            fh = services.open_file(mv)
        except FileNotFoundError:
            raise ApiError("model_file_missing", "The model file is missing on the server.", status_code=410) from None
        response = FileResponse(fh, content_type="application/octet-stream", as_attachment=True,
                                filename=f"{mv.version}.npz")
        response["ETag"] = etag
        response["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

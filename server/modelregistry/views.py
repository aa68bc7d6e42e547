"""Read-only model registry API: list versions, the current one per set, and file downloads."""
from __future__ import annotations

from django.http import FileResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from server.common.errors import ApiError

from . import services
from .models import ModelSet, ModelVersion
from .serializers import ModelVersionSerializer

SET_PARAM = OpenApiParameter("set", str, enum=ModelSet.values, description="Model set (default birds).")


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Published on-device models. Anyone may read them: they carry no personal data."""

    serializer_class = ModelVersionSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "version"
    lookup_value_regex = r"[A-Za-z0-9._:+-]{1,128}"

    def get_queryset(self):
        qs = ModelVersion.objects.select_related("parent")
        model_set = self.request.query_params.get("set")
        if model_set is not None:
            qs = qs.filter(model_set=self._model_set())
        return qs

    def _model_set(self) -> str:
        value = self.request.query_params.get("set", ModelSet.BIRDS)
        if value not in ModelSet.values:
            raise ApiError("invalid_model_set", f"Unknown model set {value!r}; use one of {', '.join(ModelSet.values)}.",
                           status_code=400, fields={"set": "unknown"})
        return value

    @extend_schema(parameters=[SET_PARAM], responses={
        200: ModelVersionSerializer, 404: OpenApiResponse(description="no_current_model: none published yet")})
    @action(detail=False, methods=["get"])
    def current(self, request):
        """The model a phone should run now, with its download URL and sha256."""
        mv = services.current_version(self._model_set())
        if mv is None:
            raise ApiError("no_current_model", "No model of this set is published yet.", status_code=404)
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

"""Exports: small ones synchronously (``GET /map/export.{csv,geojson,zip}``), large ones as Celery
jobs with progress (``POST /map/exports/``, researchers only)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from django.db import transaction
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.permissions import IsResearcher, is_admin, is_researcher
from server.observations.filters import parse_bbox
from server.platform import storage as files

from .export_query import export_queryset
from .exports import FORMATS, write_export
from .filters import FILTER_NAMES, parse_map_filters
from .models import ExportFormat, ExportJob, ExportStatus
from .negotiation import AlwaysJson
from .tile_views import MAP_FILTER_PARAMS

PUBLIC_EXPORT_LIMIT = 1000   # rows anyone may download without the researcher role
SYNC_EXPORT_LIMIT = 5000     # above this, researchers use an asynchronous job
SUFFIX_FORMATS = {"csv": "csv", "geojson": "geojson", "zip": "dwca"}


def absolute_builder(request):
    return request.build_absolute_uri


def check_bbox(raw: str | None) -> str | None:
    if raw:
        parse_bbox(raw)
    return raw or None


class SyncExportView(APIView):
    """Download observations now: CSV, GeoJSON or (researchers) a Darwin Core Archive zip.
    Coordinates are the public ones (generalised for sensitive records)."""

    permission_classes = [AllowAny]
    content_negotiation_class = AlwaysJson

    @extend_schema(parameters=[*MAP_FILTER_PARAMS, OpenApiParameter("bbox", OpenApiTypes.STR)],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/geo+json"): OpenApiTypes.OBJECT,
                              (200, "application/zip"): OpenApiTypes.BINARY,
                              403: OpenApiResponse(description="export_limit_exceeded / permission_denied"),
                              400: OpenApiResponse(description="export_too_large, invalid_filter, invalid_bbox")})
    def get(self, request, suffix: str):
        fmt = SUFFIX_FORMATS[suffix]
        researcher = is_researcher(request.user)
        if fmt == ExportFormat.DWCA and not researcher:
            raise ApiError("permission_denied", "Darwin Core Archives are for researchers.", status.HTTP_403_FORBIDDEN)
        qs = export_queryset(parse_map_filters(request.query_params), check_bbox(request.query_params.get("bbox")))
        count = qs.count()
        if not researcher and count > PUBLIC_EXPORT_LIMIT:
            raise ApiError("export_limit_exceeded",
                           f"{count} records match; without the researcher role an export holds at most "
                           f"{PUBLIC_EXPORT_LIMIT}. Narrow the filters.", status.HTTP_403_FORBIDDEN,
                           fields={"count": count, "limit": PUBLIC_EXPORT_LIMIT})
        if count > SYNC_EXPORT_LIMIT:
            raise ApiError("export_too_large", f"{count} records match; exports above {SYNC_EXPORT_LIMIT} run as a "
                           "job: POST /api/v1/map/exports/.", fields={"count": count, "limit": SYNC_EXPORT_LIMIT})
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"export.{FORMATS[fmt][1]}"
            write_export(fmt, qs, target, absolute_builder(request))
            data = target.read_bytes()
        response = HttpResponse(data, content_type=FORMATS[fmt][0])
        response["Content-Disposition"] = f'attachment; filename="dawn-chorus.{FORMATS[fmt][1]}"'
        response["X-Record-Count"] = str(count)
        return response


class ExportJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "format", "status", "total", "done", "progress", "error", "created_at", "finished_at",
                  "download_url", "filters", "bbox"]

    def get_download_url(self, job) -> str | None:
        if job.status != ExportStatus.DONE:
            return None
        return reverse("map-export-download", args=[job.pk], request=self.context["request"])


def job_for(request, pk) -> ExportJob:
    job = ExportJob.objects.filter(pk=pk).first()
    if job is None or (job.requested_by_id != request.user.id and not is_admin(request.user)):
        raise ApiError("not_found", "No such export.", status.HTTP_404_NOT_FOUND)
    return job


class ExportJobCreateView(APIView):
    """Start an asynchronous export (researchers). Poll the returned job for progress."""

    permission_classes = [IsResearcher]

    @extend_schema(request=inline_serializer("ExportRequest", {
        "format": serializers.ChoiceField(choices=ExportFormat.choices),
        "filters": serializers.DictField(required=False, help_text="the map's filter parameters"),
        "bbox": serializers.CharField(required=False)}), responses={202: ExportJobSerializer})
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        fmt = body.get("format")
        if fmt not in ExportFormat.values:
            raise ApiError("invalid_format", f"format must be one of {', '.join(ExportFormat.values)}.",
                           fields={"format": str(fmt)})
        raw_filters = body.get("filters") or {}
        if not isinstance(raw_filters, dict) or any(k not in FILTER_NAMES for k in raw_filters) \
                or any(not isinstance(v, str) for v in raw_filters.values()):
            raise ApiError("invalid_filter", f"filters is an object of strings with keys {', '.join(FILTER_NAMES)}.")
        filters = parse_map_filters(raw_filters)
        bbox = body.get("bbox")
        if bbox is not None and not isinstance(bbox, str):
            raise ApiError("invalid_bbox", "bbox must be 'minLng,minLat,maxLng,maxLat'.")
        job = ExportJob.objects.create(requested_by=request.user, format=fmt, filters=filters.to_json(),
                                       bbox=check_bbox(bbox) or "", base_url=request.build_absolute_uri("/"))
        transaction.on_commit(lambda: enqueue(job.pk))
        return Response(ExportJobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


def enqueue(job_id) -> None:
    from .tasks import run_export

    try:
        run_export.apply_async(args=[str(job_id)], retry=False)
    except Exception as exc:  # broker down: the job is failed visibly rather than lost silently
        ExportJob.objects.filter(pk=job_id).update(status=ExportStatus.FAILED, error=f"could not queue: {exc}"[:300])


class ExportJobView(APIView):
    """An export job's status and progress (0..1)."""

    permission_classes = [IsResearcher]

    @extend_schema(responses={200: ExportJobSerializer})
    def get(self, request, pk):
        return Response(ExportJobSerializer(job_for(request, pk), context={"request": request}).data)


class ExportDownloadView(APIView):
    """The finished export's file."""

    permission_classes = [IsResearcher]
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        job = job_for(request, pk)
        if job.status != ExportStatus.DONE:
            raise ApiError("export_not_ready", f"The export is {job.status}.", status.HTTP_409_CONFLICT)
        try:
            fh = files.open_file(job.file)
        except (FileNotFoundError, ValueError):
            raise ApiError("export_missing", "The export file is gone; start a new export.", status.HTTP_410_GONE) from None
        ext = FORMATS[job.format][1]
        return FileResponse(fh, as_attachment=True, filename=f"dawn-chorus-{job.pk}.{ext}",
                            content_type=FORMATS[job.format][0])

from django.http import FileResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from server.common.errors import ApiError
from server.common.permissions import ReadOnlyOrAdmin
from server.maps.negotiation import AlwaysJson
from server.platform import storage

from .images import CONTENT_TYPES, FOLDER, NAME_PATTERN
from .models import NAMED_CLASS_RANKS, Rank, Species
from .serializers import SpeciesSerializer

RANK_PARAMETER = OpenApiParameter(
    "rank", OpenApiTypes.STR, description="Comma-separated ranks to list (species, genus, family, order, class, "
    "kingdom, sound_class, soundscape) or 'any'. Default: species,sound_class: the named classes a player can "
    "target, without higher taxa, unidentified animals or soundscapes.")


def ranks_param(raw: str | None) -> tuple[str, ...] | None:
    """The ``rank`` query parameter as ranks (None: every rank). Unknown ranks are a 400 ``invalid_rank``."""
    if raw is None or not raw.strip():
        return NAMED_CLASS_RANKS
    if raw.strip() == "any":
        return None
    ranks = tuple(r.strip() for r in raw.split(",") if r.strip())
    bad = [r for r in ranks if r not in Rank.values]
    if bad or not ranks:
        raise ApiError("invalid_rank", f"rank must be 'any' or a comma-separated list of {', '.join(Rank.values)}.",
                       fields={"rank": "unknown rank"})
    return ranks


@extend_schema_view(list=extend_schema(parameters=[RANK_PARAMETER]))
class SpeciesViewSet(viewsets.ModelViewSet):
    """The catalogue: anyone reads it, admins edit it. The list holds species and city-sound classes
    unless ``rank`` asks for others; a single row is found whatever its rank."""

    queryset = Species.objects.select_related("parent")
    serializer_class = SpeciesSerializer
    permission_classes = [ReadOnlyOrAdmin]
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_fields = ["kind", "sensitive", "identifiable"]
    search_fields = ["common_name", "scientific_name", "label"]
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list":
            ranks = ranks_param(self.request.query_params.get("rank"))
            if ranks is not None:
                qs = qs.filter(rank__in=ranks)
        return qs


class SpeciesPictureView(APIView):
    """A species card's picture, by its content address (``<sha256>.png|jpg``): public, and cacheable for
    good since the name changes whenever the picture does. Only a picture some catalogue row names is
    served; anything else is 404 ``not_found``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    content_negotiation_class = AlwaysJson

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, (200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, name: str):
        stored = f"{FOLDER}/{name}"
        if not NAME_PATTERN.match(name) or not Species.objects.filter(image_name=stored).exists():
            raise ApiError("not_found", "No such species picture.", status_code=404)
        try:
            fh = storage.open_file(stored)
        except FileNotFoundError:
            raise ApiError("not_found", "No such species picture.", status_code=404) from None
        response = FileResponse(fh, content_type=CONTENT_TYPES[name.rsplit(".", 1)[1]])
        response["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

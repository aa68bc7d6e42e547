from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, viewsets

from server.common.permissions import ReadOnlyOrAdmin

from .models import Species
from .serializers import SpeciesSerializer


class SpeciesViewSet(viewsets.ModelViewSet):
    """The catalogue: anyone reads it, admins edit it."""

    queryset = Species.objects.all()
    serializer_class = SpeciesSerializer
    permission_classes = [ReadOnlyOrAdmin]
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_fields = ["kind", "sensitive", "identifiable"]
    search_fields = ["common_name", "scientific_name", "label"]
    http_method_names = ["get", "post", "patch", "delete"]

"""GeoJSON representation of observations, geoprivacy-aware."""
from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.fields import GeometrySerializerMethodField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from server.common.permissions import is_researcher

from .models import Observation
from .services import public_uncertainty_m


def sees_true_location(user, obs: Observation) -> bool:
    return is_researcher(user) or (obs.observer_id is not None and obs.observer_id == getattr(user, "id", None))


class ObservationSerializer(GeoFeatureModelSerializer):
    geometry = GeometrySerializerMethodField()
    species = serializers.CharField(source="species.label")
    common_name = serializers.CharField(source="species.common_name")
    scientific_name = serializers.CharField(source="species.scientific_name")
    coordinate_uncertainty_m = serializers.SerializerMethodField()
    obscured = serializers.SerializerMethodField()
    recording = serializers.SerializerMethodField()

    class Meta:
        model = Observation
        geo_field = "geometry"
        fields = ["id", "species", "common_name", "scientific_name", "observed_at", "date_precision",
                  "confidence", "status", "sound_type", "source", "source_url", "recordist", "license",
                  "locality", "coordinate_uncertainty_m", "georeference_remarks", "obscured", "recording"]

    def _privileged(self, obs: Observation) -> bool:
        return sees_true_location(self.context["request"].user, obs)

    def get_geometry(self, obs: Observation):
        return obs.location if self._privileged(obs) else obs.public_location

    def get_coordinate_uncertainty_m(self, obs: Observation) -> float | None:
        return obs.coordinate_uncertainty_m if self._privileged(obs) else public_uncertainty_m(obs)

    def get_obscured(self, obs: Observation) -> bool:
        return obs.obscured and not self._privileged(obs)

    def get_recording(self, obs: Observation) -> str | None:
        if obs.recording_id is None:
            return None
        user = self.context["request"].user
        if is_researcher(user) or obs.observer_id == getattr(user, "id", None):
            return str(obs.recording_id)
        return None

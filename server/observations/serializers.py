"""GeoJSON representation of observations, geoprivacy-aware (see :mod:`.publication`)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometrySerializerMethodField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from server.common.permissions import is_researcher

from .models import Observation
from .publication import is_withheld, public_cell, sees_true_location, shown_answers, shown_time
from .services import public_uncertainty_m

__all__ = ["ObservationSerializer", "sees_true_location"]

# Properties a withheld observation publishes empty: they name the recordist or point at coordinates.
WITHHELD_TEXT = ("recordist", "source_url", "locality", "georeference_remarks")


class ObservationSerializer(GeoFeatureModelSerializer):
    """An observation as a GeoJSON Feature. Withheld (obscured, asked by neither a researcher nor the
    owner): the public point, ``cell`` ([west, south, east, north] of its 0.2° cell), the date only
    (``date_precision`` at most ``day``), no recordist, locality or source link, and no phone model version.
    ``kind_conflict`` and ``answers`` show the claim and the model's answer (server/recordings/decision.py)."""

    geometry = GeometrySerializerMethodField()
    species = serializers.CharField(source="species.label")
    common_name = serializers.CharField(source="species.common_name")
    scientific_name = serializers.CharField(source="species.scientific_name")
    coordinate_uncertainty_m = serializers.SerializerMethodField()
    obscured = serializers.SerializerMethodField()
    recording = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField(help_text="The identifications analysis weighed: 'claim' (the "
                                                          "player's) and 'model' (the server's), each with label, "
                                                          "kind, confidence and model_version.")
    cell = serializers.SerializerMethodField(help_text="[west, south, east, north] of the 0.2° cell an obscured "
                                                       "observation is published as; null when exact.")

    class Meta:
        model = Observation
        geo_field = "geometry"
        fields = ["id", "species", "common_name", "scientific_name", "observed_at", "date_precision",
                  "confidence", "status", "sound_type", "source", "source_url", "recordist", "license",
                  "locality", "coordinate_uncertainty_m", "georeference_remarks", "obscured", "recording", "cell",
                  "kind_conflict", "answers"]

    def _privileged(self, obs: Observation) -> bool:
        return sees_true_location(self.context["request"].user, obs)

    def get_geometry(self, obs: Observation):
        return obs.location if self._privileged(obs) else obs.public_location

    def get_coordinate_uncertainty_m(self, obs: Observation) -> float | None:
        return obs.coordinate_uncertainty_m if self._privileged(obs) else public_uncertainty_m(obs)

    def get_obscured(self, obs: Observation) -> bool:
        return obs.obscured and not self._privileged(obs)

    @extend_schema_field(serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                               allow_null=True))
    def get_cell(self, obs: Observation) -> list[float] | None:
        return public_cell(obs) if is_withheld(obs, self.context["request"].user) else None

    @extend_schema_field(serializers.DictField(child=serializers.DictField()))
    def get_answers(self, obs: Observation) -> dict:
        return shown_answers(obs, is_withheld(obs, self.context["request"].user))

    def get_recording(self, obs: Observation) -> str | None:
        if obs.recording_id is None:
            return None
        user = self.context["request"].user
        if is_researcher(user) or obs.observer_id == getattr(user, "id", None):
            return str(obs.recording_id)
        return None

    def to_representation(self, obs: Observation) -> dict:
        feature = super().to_representation(obs)
        if is_withheld(obs, self.context["request"].user):
            props = feature["properties"]
            props["observed_at"], props["date_precision"] = shown_time(obs, True)
            props.update({name: "" for name in WITHHELD_TEXT})
        return feature

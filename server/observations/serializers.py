"""GeoJSON representation of observations, geoprivacy-aware (see :mod:`.publication`), and the recordist's
terms of a record (licence, rating, background species; see :mod:`.record_terms`)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometrySerializerMethodField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from server.common.permissions import is_researcher
from server.species.catalogue import species_named

from . import record_terms
from .models import Observation
from .public_clips import effective_licence
from .record_terms import TermsError
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
    license = serializers.SerializerMethodField(help_text="The record's licence URL (as in the exports).")
    cell = serializers.SerializerMethodField(help_text="[west, south, east, north] of the 0.2° cell an obscured "
                                                       "observation is published as; null when exact.")

    class Meta:
        model = Observation
        geo_field = "geometry"
        fields = ["id", "species", "common_name", "scientific_name", "observed_at", "date_precision",
                  "confidence", "status", "sound_type", "source", "source_url", "recordist", "license",
                  "rating", "background_species",
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

    def get_license(self, obs: Observation) -> str:
        return effective_licence(obs)

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


def known_species_names(names: list[str]) -> list[str]:
    """Each name (a catalogue label or scientific name, any case) as the species' scientific name, without
    repeats; ``invalid_background_species`` naming the first unknown one."""
    out = []
    for name in names:
        species = species_named(name)
        if species is None or not species.scientific_name:
            raise serializers.ValidationError(f"Unknown species {name!r} in background_species.",
                                              code="invalid_background_species")
        out.append(species.scientific_name)
    return list(dict.fromkeys(out))


def terms_check(check, value):
    """``check(value)`` (a :mod:`.record_terms` function); its :class:`TermsError` becomes a validation error
    with the same code."""
    try:
        return check(value)
    except TermsError as exc:
        raise serializers.ValidationError(exc.message, code=exc.code) from None


class RecordTermsValidation:
    """Checks of a serializer's ``license`` (a code of ``record_terms.LICENSES``, kept as its URL), ``rating``
    (A–E, or "" for none) and ``background_species`` (catalogue labels or scientific names, kept as scientific
    names); the serializer declares the fields."""

    def validate_license(self, value) -> str:
        return terms_check(record_terms.license_url, value)

    def validate_rating(self, value) -> str:
        return terms_check(record_terms.rating, value)

    def validate_background_species(self, value) -> list[str]:
        return known_species_names(terms_check(record_terms.background_names, value))


class RecordTermsSerializer(RecordTermsValidation, serializers.Serializer):
    """The recordist's terms of one observation, each optional (see :class:`RecordTermsValidation`)."""

    license = serializers.JSONField(required=False, allow_null=True, help_text="cc0-1.0, cc-by-4.0 or cc-by-nc-4.0")
    rating = serializers.JSONField(required=False, allow_null=True, help_text="A (best) to E, or empty for none")
    background_species = serializers.JSONField(required=False, allow_null=True, help_text="other species heard")

"""The submission metadata contract (the ``metadata`` JSON part of POST /recordings/).

Types are strict: numbers must be JSON numbers (``true`` is not a latitude), text must be JSON
strings (``1234`` is not an idempotency key); a wrong type is refused with the field's own code
(``invalid_coordinates``, ``invalid_accuracy``, ``invalid_segment``, else ``invalid_metadata``).
The recordist's terms (``license``, ``rating``, ``background_species``) follow
:mod:`server.observations.record_terms` and are refused with its codes (``invalid_license``,
``invalid_rating``, ``invalid_background_species``).
The JSON text itself is decoded by :func:`server.common.strict_json.loads_strict`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.utils import timezone as dj_timezone
from rest_framework import serializers

from server.common.strict_fields import StrictCharField, StrictFloatField, StrictRegexField
from server.observations import record_terms
from server.observations.serializers import RecordTermsValidation

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW = timedelta(minutes=5)
MAX_ACCURACY_M = 50_000.0
MAX_DEVICE_KEYS = 30
UNKNOWN_LABEL = "unknown"


class LocationSerializer(serializers.Serializer):
    lat = StrictFloatField(type_code="invalid_coordinates")
    lng = StrictFloatField(type_code="invalid_coordinates")
    accuracy_m = StrictFloatField(type_code="invalid_accuracy")  # missing or null: see to_internal_value

    def validate_lat(self, v: float) -> float:
        if not -90.0 <= v <= 90.0:
            raise serializers.ValidationError("Latitude must be within [-90, 90].", code="invalid_coordinates")
        return v

    def validate_lng(self, v: float) -> float:
        if not -180.0 <= v <= 180.0:
            raise serializers.ValidationError("Longitude must be within [-180, 180].", code="invalid_coordinates")
        return v

    def validate_accuracy_m(self, v: float) -> float:
        if not 0.0 < v <= MAX_ACCURACY_M:
            raise serializers.ValidationError(f"Accuracy must be in (0, {MAX_ACCURACY_M:.0f}] metres.",
                                              code="invalid_accuracy")
        return v

    def to_internal_value(self, data):
        if isinstance(data, dict) and data.get("accuracy_m") is None:
            raise serializers.ValidationError({"accuracy_m": serializers.ErrorDetail(
                "GPS accuracy in metres is required.", code="missing_accuracy")})
        return super().to_internal_value(data)


class SegmentSerializer(serializers.Serializer):
    start_s = StrictFloatField(min_value=0.0, type_code="invalid_segment")
    end_s = StrictFloatField(min_value=0.0, type_code="invalid_segment")

    def validate(self, attrs):
        if attrs["end_s"] <= attrs["start_s"]:
            raise serializers.ValidationError("Segment end must be after its start.", code="invalid_segment")
        return attrs


class DeviceLabelSerializer(serializers.Serializer):
    label = StrictCharField(max_length=120, type_code="invalid_metadata")
    confidence = StrictFloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True,
                                  type_code="invalid_metadata")
    model_version = StrictCharField(max_length=64, required=False, allow_blank=True, default="",
                                    type_code="invalid_metadata")


class RecordingMetadataSerializer(RecordTermsValidation, serializers.Serializer):
    idempotency_key = StrictRegexField(r"^[A-Za-z0-9_\-:.]{8,64}$", type_code="invalid_metadata", error_messages={
        "invalid": "8-64 characters from letters, digits and _-:."})
    recorded_at = serializers.DateTimeField(default_timezone=timezone.utc)
    location = LocationSerializer()
    segment = SegmentSerializer()
    identification = DeviceLabelSerializer()
    device = serializers.DictField(required=False, default=dict)
    notes = StrictCharField(max_length=500, required=False, allow_blank=True, default="", type_code="invalid_notes",
                            help_text="The recordist's notes (editable later: PATCH /recordings/{id}/).")
    session_token = StrictCharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                    type_code="invalid_metadata",
                                    help_text="From POST /recordings/session-token/ (in-app recorder).")
    license = serializers.JSONField(required=False, allow_null=True, default=record_terms.DEFAULT_LICENSE,
                                    help_text="cc0-1.0, cc-by-4.0 or cc-by-nc-4.0 (default).")
    rating = serializers.JSONField(required=False, allow_null=True, default="",
                                   help_text="Sound quality A (best) to E; optional.")
    background_species = serializers.JSONField(required=False, allow_null=True, default=list,
                                               help_text="Other species heard: catalogue labels or scientific names.")

    def validate_recorded_at(self, value: datetime) -> datetime:
        if value < EARLIEST:
            raise serializers.ValidationError("Timestamps before 2000 are not accepted.", code="timestamp_too_old")
        if value > dj_timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("The timestamp is in the future.", code="timestamp_in_future")
        return value.astimezone(timezone.utc)

    def validate_device(self, value: dict) -> dict:
        if len(value) > MAX_DEVICE_KEYS:
            raise serializers.ValidationError(f"At most {MAX_DEVICE_KEYS} device fields.", code="invalid_device")
        clean = {}
        for key, item in value.items():
            if not isinstance(item, (str, int, float, bool)) or item is None or len(str(key)) > 40:
                raise serializers.ValidationError("Device fields must be short scalar values.",
                                                  code="invalid_device")
            clean[str(key)] = item[:200] if isinstance(item, str) else item
        return clean


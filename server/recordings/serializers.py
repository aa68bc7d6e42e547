"""Representations of recordings for their owner and for researchers."""
from __future__ import annotations

from rest_framework import serializers
from rest_framework.reverse import reverse

from server.common.strict_fields import StrictCharField
from server.observations import record_terms

from .models import Recording


class RecordingSerializer(serializers.ModelSerializer):
    location = serializers.SerializerMethodField()
    claimed_species = serializers.CharField(source="claimed_species.label", default=None)
    observation = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()
    owner = serializers.CharField(source="owner.username")
    license = serializers.SerializerMethodField(
        help_text="The record's licence code (cc0-1.0, cc-by-4.0, cc-by-nc-4.0): the observation's current one "
                  "once analysed (PATCH /observations/{id}/terms/ changes it), else the upload's choice.")
    license_url = serializers.SerializerMethodField(help_text="The same licence as its URL.")
    rating = serializers.SerializerMethodField(help_text="Sound quality A (best) to E, or empty for none.")
    background_species = serializers.SerializerMethodField(help_text="Other species heard (scientific names).")

    class Meta:
        model = Recording
        fields = ["id", "owner", "status", "reject_code", "reject_reason", "idempotency_key", "recorded_at",
                  "location", "segment_start_s", "segment_end_s", "claimed_species", "device_confidence",
                  "device_model_version", "device_info", "audio_sha256", "audio_format", "audio_bytes",
                  "sample_rate", "channels", "duration_s", "speech_muted", "duplicate_of", "analysis",
                  "observation", "audio_url", "notes", "license", "license_url", "rating", "background_species",
                  "created_at", "analysed_at"]

    def get_location(self, rec: Recording) -> dict:
        return {"lat": rec.location.y, "lng": rec.location.x, "accuracy_m": rec.accuracy_m}

    def get_observation(self, rec: Recording) -> dict | None:
        obs = getattr(rec, "observation", None)
        if obs is None:
            return None
        return {"id": obs.pk, "species": obs.species.label, "common_name": obs.species.common_name,
                "confidence": obs.confidence, "status": obs.status, "kind_conflict": obs.kind_conflict,
                "answers": obs.answers}

    @staticmethod
    def _terms_holder(rec: Recording):
        """Where the record's current terms live: its observation once there is one, else the upload."""
        return getattr(rec, "observation", None) or rec

    def get_license_url(self, rec: Recording) -> str:
        return self._terms_holder(rec).license or record_terms.DEFAULT_LICENSE_URL

    def get_license(self, rec: Recording) -> str | None:
        return record_terms.license_code(self.get_license_url(rec))

    def get_rating(self, rec: Recording) -> str:
        return self._terms_holder(rec).rating or ""

    def get_background_species(self, rec: Recording) -> list[str]:
        return list(self._terms_holder(rec).background_species or [])

    def get_audio_url(self, rec: Recording) -> str:
        return reverse("recording-audio", args=[rec.pk], request=self.context.get("request"))


class RecordingEditSerializer(serializers.Serializer):
    """What the recordist may change: notes, and the label before analysis (recordings/withdraw.py)."""

    label = StrictCharField(max_length=120, required=False, type_code="invalid_label")
    notes = StrictCharField(max_length=500, required=False, allow_blank=True, type_code="invalid_notes")


class RecordingCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    created = serializers.BooleanField()
    url = serializers.URLField()

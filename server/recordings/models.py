"""Recordings as submitted by phones, and the fingerprint index used to find replays."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField


class Status(models.TextChoices):
    RECEIVED = "received", "Received, waiting for analysis"
    PROCESSING = "processing", "Being analysed"
    ACCEPTED = "accepted", "Accepted: on the map"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn by its recordist"


# analysis never (again) touches these; a withdrawn recording keeps its fingerprints, so the same
# audio submitted again is a duplicate (recordings/withdraw.py)
FINAL_STATUSES = (Status.ACCEPTED, Status.REJECTED, Status.WITHDRAWN)


class Recording(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recordings")
    idempotency_key = models.CharField(max_length=64)
    # audio, stored content-addressed in the file store (server/recordings/storage.py)
    audio_sha256 = models.CharField(max_length=64, db_index=True, help_text="sha256 of the submitted bytes")
    audio_path = models.CharField(max_length=200, db_index=True,
                                  help_text="stored file (the speech-muted copy if muted)")
    audio_format = models.CharField(max_length=8)
    audio_bytes = models.PositiveIntegerField()
    sample_rate = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    duration_s = models.FloatField()
    # where, when, what the phone said
    recorded_at = models.DateTimeField(db_index=True)
    location = models.PointField(srid=4326)
    accuracy_m = models.FloatField()
    segment_start_s = models.FloatField()
    segment_end_s = models.FloatField()
    claimed_species = models.ForeignKey("species.Species", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="claimed_recordings")
    device_confidence = models.FloatField(null=True, blank=True)
    device_model_version = models.CharField(max_length=64, blank=True)
    device_info = models.JSONField(default=dict, blank=True)
    # the recordist's terms for the observation (server/observations/record_terms.py)
    license = models.URLField(blank=True)
    rating = models.CharField(max_length=1, blank=True)
    background_species = ArrayField(models.CharField(max_length=120), default=list, blank=True)
    # analysis outcome
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    reject_code = models.CharField(max_length=40, blank=True)
    reject_reason = models.CharField(max_length=300, blank=True)
    analysis = models.JSONField(default=dict, blank=True)
    pcm_digest = models.CharField(max_length=64, blank=True, db_index=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="duplicates")
    speech_muted = models.BooleanField(default=False)
    analysis_attempts = models.PositiveSmallIntegerField(default=0)
    notes = models.CharField(max_length=500, blank=True, default="", db_default="",
                             help_text="The recordist's own notes, shown to them (PATCH /recordings/<id>/).")
    session_nonce = models.CharField(max_length=32, blank=True, default="",
                                     help_text="Nonce of the recording session token that authorised the upload.")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    analysed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "idempotency_key"], name="recording_unique_idempotency_key"),
            models.CheckConstraint(condition=models.Q(segment_end_s__gt=models.F("segment_start_s")),
                                   name="recording_segment_ordered"),
            models.UniqueConstraint(fields=["session_nonce"], condition=~models.Q(session_nonce=""),
                                    name="recording_session_token_once"),
        ]
        # the recently accepted ones, for the game's reconciliation of awards (services.earning_observations)
        indexes = [models.Index(fields=["analysed_at"], condition=models.Q(status="accepted"),
                                name="recording_accepted_analysed_at")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class FingerprintHash(models.Model):
    """Inverted index of landmark hashes: hash → (recording, anchor frame)."""

    hash = models.BigIntegerField(db_index=True)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="fingerprint_hashes")
    offset = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["recording"], name="fp_recording_idx")]

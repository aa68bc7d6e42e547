"""Observations: a species heard at a place and time; what the map and exports show."""
from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models


class Status(models.TextChoices):
    CASUAL = "casual", "Casual"
    NEEDS_ID = "needs_id", "Needs ID"
    RESEARCH = "research", "Research grade"


class Source(models.TextChoices):
    APP = "app", "Dawn Chorus app"
    XENO_CANTO = "xeno-canto", "xeno-canto import"


class Observation(models.Model):
    recording = models.OneToOneField("recordings.Recording", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="observation")
    species = models.ForeignKey("species.Species", on_delete=models.PROTECT, related_name="observations")
    observer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="observations")
    location = models.PointField(srid=4326)
    public_location = models.PointField(srid=4326, help_text="What the public sees (obscured if sensitive).")
    obscured = models.BooleanField(default=False)
    coordinate_uncertainty_m = models.FloatField(null=True, blank=True)
    georeference_remarks = models.CharField(max_length=200, blank=True)
    locality = models.CharField(max_length=300, blank=True)
    observed_at = models.DateTimeField(db_index=True)
    date_precision = models.CharField(max_length=8, default="second")
    confidence = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEEDS_ID, db_index=True)
    sound_type = models.CharField(max_length=60, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.APP)
    source_id = models.CharField(max_length=40, blank=True)
    source_url = models.URLField(blank=True)
    recordist = models.CharField(max_length=120, blank=True)
    license = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-observed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], condition=~models.Q(source_id=""),
                                    name="observation_unique_source_id"),
            models.CheckConstraint(condition=models.Q(confidence__isnull=True)
                                   | models.Q(confidence__gte=0, confidence__lte=1),
                                   name="observation_confidence_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.species} @ {self.observed_at:%Y-%m-%d}"

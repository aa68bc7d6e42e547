"""Observations: a species heard at a place and time; what the map and exports show."""
from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GistIndex
from django.db.models import Value


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
    # spatially indexed with observed_at (Meta.indexes), not alone
    location = models.PointField(srid=4326, spatial_index=False)
    public_location = models.PointField(srid=4326, spatial_index=False,
                                        help_text="What the public sees (obscured if sensitive).")
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
    license = models.URLField(blank=True, help_text="The record's one licence (URL): the player's choice "
                                                    "(record_terms.LICENSES) or the imported record's own.")
    # database defaults too: raw-SQL writers (the benchmark loader) need not name these columns
    rating = models.CharField(max_length=1, blank=True, default="", db_default="", choices=[(r, r) for r in "ABCDE"],
                              help_text="Sound quality A (best) to E, as xeno-canto rates; empty: not rated.")
    background_species = ArrayField(models.CharField(max_length=120), default=list, blank=True,
                                    db_default=Value([], output_field=ArrayField(models.CharField(max_length=120))),
                                    help_text="Scientific names of other species heard in the recording.")
    kind_conflict = models.BooleanField(
        default=False, help_text="The claim and the model's answer are of different kinds (a bird and a city sound); "
                                 "the observation keeps the claim and needs an identification.")
    answers = models.JSONField(
        default=dict, blank=True,
        help_text="The identifications analysis weighed: {'claim': {...}, 'model': {...}}, each with label, kind, "
                  "confidence and model_version (see server/recordings/decision.py).")
    reviewed_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When a reviewer's label (direct or propagated) set the species.")
    public_clip_token = models.CharField(
        max_length=64, null=True, blank=True, unique=True,
        help_text="Random token naming the public clip (public_clips.py); null when there is none.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-observed_at", "-id"]
        # A point tile or bbox with a date range finds its rows in one index scan on both (an index on the
        # position alone gets ANDed with a bitmap of every observation in the date range, city-wide).
        # The leading column serves position-only queries. Needs btree_gist (migration 0002).
        indexes = [
            GistIndex(fields=["public_location", "observed_at"], name="observation_public_where_when"),
            GistIndex(fields=["location", "observed_at"], name="observation_where_when"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], condition=~models.Q(source_id=""),
                                    name="observation_unique_source_id"),
            models.CheckConstraint(condition=models.Q(confidence__isnull=True)
                                   | models.Q(confidence__gte=0, confidence__lte=1),
                                   name="observation_confidence_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.species} @ {self.observed_at:%Y-%m-%d}"

"""The species (and urban sound class) catalogue."""
from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    BIRD = "bird", "Bird"
    URBAN = "urban", "Urban sound"
    OTHER = "other", "Other"


class Species(models.Model):
    """A class the game knows. ``label`` is the exact string classifiers and manifests use."""

    label = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BIRD)
    common_name = models.CharField(max_length=120)
    scientific_name = models.CharField(max_length=160, blank=True, db_index=True)
    description = models.TextField(blank=True)
    sensitive = models.BooleanField(default=False, help_text="Endangered: positions are obscured for the public.")
    conservation_status = models.CharField(max_length=8, blank=True)
    band_low_hz = models.FloatField(null=True, blank=True)
    band_high_hz = models.FloatField(null=True, blank=True)
    identifiable = models.BooleanField(default=True, help_text="Players may claim it when submitting a recording.")
    source = models.CharField(max_length=40, default="catalogue")

    class Meta:
        ordering = ["kind", "common_name"]
        verbose_name_plural = "species"
        constraints = [models.CheckConstraint(
            condition=models.Q(band_low_hz__isnull=True) | models.Q(band_high_hz__gt=models.F("band_low_hz")),
            name="species_band_ordered")]

    def __str__(self) -> str:
        return self.common_name

    @property
    def band(self) -> tuple[float, float] | None:
        if self.band_low_hz is None or self.band_high_hz is None:
            return None
        return (self.band_low_hz, self.band_high_hz)

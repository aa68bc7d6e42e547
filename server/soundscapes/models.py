"""Soundscape storage: per-cell specs per window, window builds, clips, artistic mixes.

A *window* is ``"live"`` (the last 24 hours, rebuilt by beat) or a UTC day ``"YYYY-MM-DD"``.
"""
from __future__ import annotations

from django.db import models


class WindowBuild(models.Model):
    """When a whole window was last built (rows of CellSpec for it are then authoritative)."""

    window = models.CharField(max_length=10, unique=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    built_at = models.DateTimeField()
    n_cells = models.PositiveIntegerField(default=0)
    n_observations = models.PositiveIntegerField(default=0)


class CellSpec(models.Model):
    window = models.CharField(max_length=10)
    cell = models.CharField(max_length=16)
    spec = models.JSONField(default=dict)
    etag = models.CharField(max_length=32, blank=True)
    n_observations = models.PositiveIntegerField(default=0)
    stale = models.BooleanField(default=False, help_text="An observation arrived since the build.")
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["window", "cell"], name="cellspec_unique_window_cell")]
        indexes = [models.Index(fields=["window", "stale"], name="cellspec_window_stale")]


class Clip(models.Model):
    """A soundscape clip (Ogg/Opus), content-addressed; phones download it once and cache it."""

    class Kind(models.TextChoices):
        RECORDING = "recording", "A player's recording (its marked segment)"
        FIXTURE = "fixture", "A shipped, attributed fixture clip"

    sha256 = models.CharField(max_length=64, unique=True)
    path = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    recording = models.OneToOneField("recordings.Recording", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="soundscape_clip")
    fixture_name = models.CharField(max_length=120, blank=True)
    species_label = models.CharField(max_length=120)
    duration_s = models.FloatField()
    attribution = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class CellMix(models.Model):
    """The artistic mix of a busy cell for one UTC day, stored as Ogg/Opus."""

    cell = models.CharField(max_length=16)
    day = models.DateField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=200)
    clip_set = models.CharField(max_length=64, help_text="Hash of the clips mixed (rebuild only on change).")
    n_clips = models.PositiveIntegerField()
    duration_s = models.FloatField()
    loudness_lufs = models.FloatField()
    built_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cell", "day"], name="cellmix_unique_cell_day")]

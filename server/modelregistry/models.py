"""Registered runtime model files: which versions exist and which one is current.

Since issue 25 there is one model set, ``field``: the field model covers the 22 birds, the 10 city
sounds and ``no_target``. The sets before it (``birds``, ``urban``) survive only as names that old
clients and old model file headers may still use (:data:`LEGACY_SETS`, :data:`RETIRED_SETS`).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelSet(models.TextChoices):
    FIELD = "field", "Field model: birds, city sounds, no target"


# The sets before issue 25. Old app versions ask the API for them: each reads as the field set.
LEGACY_SETS = ("birds", "urban")
# Sets whose model files may no longer be registered, with the reason given to whoever tries.
RETIRED_SETS = {"urban": "the urban set is retired: the field model covers city sounds"}


class Source(models.TextChoices):
    SHIPPED = "shipped", "Shipped with the code"
    CENTRAL = "central", "Central training"
    FEDERATED = "federated", "Federated round"


class ModelVersion(models.Model):
    """One runtime model file (``ml.runtime.model_format``), stored content-addressed."""

    model_set = models.CharField(max_length=16, choices=ModelSet.choices, default=ModelSet.FIELD, db_index=True)
    version = models.CharField(max_length=128, unique=True)  # the file header's model_version
    file = models.CharField(max_length=255)  # name in the file store (server/platform/storage.py)
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.PositiveIntegerField()
    architecture = models.CharField(max_length=64)
    labels = models.JSONField(default=list)
    metrics = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CENTRAL)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="children")
    is_current = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["model_set"], condition=Q(is_current=True),
                                               name="one_current_model_per_set")]

    def __str__(self) -> str:
        return f"{self.model_set}:{self.version}{' (current)' if self.is_current else ''}"

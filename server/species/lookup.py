"""Which species a label or an id names, for the other apps.

:func:`identifiable_species` serves the upload hot path from an in-process cache kept for ``TTL_S``.
Only species that exist are cached (so hostile labels cannot grow the cache beyond the catalogue); a
save or delete in this process clears it, and other processes see a change within ``TTL_S``.
"""
from __future__ import annotations

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Species

TTL_S = 30.0
_cache: dict[str, tuple[float, Species]] = {}


def identifiable_species(label: str) -> Species | None:
    now = time.monotonic()
    hit = _cache.get(label)
    if hit is not None and now - hit[0] < TTL_S:
        return hit[1]
    species = Species.objects.filter(label=label, identifiable=True).first()
    if species is not None:
        _cache[label] = (now, species)
    else:
        _cache.pop(label, None)
    return species


def named_classes():
    """The species and city-sound classes (a queryset): what a quest may target; no higher taxon,
    unidentified animal or soundscape."""
    return Species.objects.named_classes()


def labels_of(ids) -> dict[int, str]:
    """Species id → label for the ``ids`` that exist."""
    return dict(Species.objects.filter(pk__in=list(ids)).values_list("pk", "label"))


@receiver([post_save, post_delete], sender=Species, dispatch_uid="species.lookup.clear")
def clear(**_kwargs) -> None:
    _cache.clear()

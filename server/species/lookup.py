"""Which species a label or an id names, for the other apps.

:func:`identifiable_species` serves the upload hot path from an in-process cache kept for ``TTL_S``.
Only species that exist are cached (so hostile labels cannot grow the cache beyond the catalogue); a
save or delete in this process clears it, and other processes see a change within ``TTL_S``.
"""
from __future__ import annotations

import time

from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Rank, Species

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


def species_by_label(label: str) -> Species | None:
    """The catalogue entry whose label is ``label`` (identifiable or not), or None."""
    return Species.objects.filter(label=label).first()


def kind_of(label: str) -> str:
    """The catalogue kind of ``label`` ("" when the catalogue does not know it)."""
    return Species.objects.filter(label=label).values_list("kind", flat=True).first() or ""


def named_classes():
    """The species and city-sound classes (a queryset): what a quest may target; no higher taxon,
    unidentified animal or soundscape."""
    return Species.objects.named_classes()


def named_class_labels() -> set[str]:
    """The labels of the species and city-sound classes (see :func:`named_classes`)."""
    return set(named_classes().values_list("label", flat=True))


def species_labelled(labels) -> QuerySet[Species]:
    """The catalogue entries whose label is one of ``labels`` (those that exist)."""
    return Species.objects.filter(label__in=list(labels))


def labels_of(ids) -> dict[int, str]:
    """Species id → label for the ``ids`` that exist."""
    return dict(Species.objects.filter(pk__in=list(ids)).values_list("pk", "label"))


@receiver([post_save, post_delete], sender=Species, dispatch_uid="species.lookup.clear")
def clear(**_kwargs) -> None:
    _cache.clear()


def species_matching(ids, names) -> list[tuple[int, str, str]]:
    """(id, label, scientific name) of every catalogue entry whose id is one of ``ids`` or whose label or
    scientific name is one of ``names``, in no particular order."""
    found = Species.objects.filter(Q(id__in=ids) | Q(label__in=names) | Q(scientific_name__in=names))
    return list(found.values_list("id", "label", "scientific_name"))


def species_by_key(key: str) -> Species | None:
    """The entry named by ``key``: its label, its scientific name or (all digits) its id; None when none is."""
    q = Q(label=key) | Q(scientific_name=key)
    if key.isdigit():
        q |= Q(pk=int(key))
    return Species.objects.filter(q).first()


def filterable_species(ids) -> QuerySet[Species]:
    """The entries among ``ids`` a map may filter by (taxa and city-sound classes: a soundscape names neither),
    by common name."""
    return Species.objects.filter(pk__in=ids).exclude(rank=Rank.SOUNDSCAPE).order_by("common_name")

"""The observations' read side for other apps (the map, its exports and species pages): querysets and facts.

Other apps read observations through these functions and the vocabulary re-exported here (:class:`Source`,
:class:`Status`), never through :mod:`server.observations.models`; SQL composed elsewhere reads the relation
of :mod:`server.observations.sql_relations`. A queryset returned here holds observations with every field,
true positions included: privacy (obscured positions, coarse dates) is the caller's to apply where it shows
them, and the caller may filter it further (the map's filters, a bounding box).
"""
from __future__ import annotations

from django.contrib.gis.db.models import Extent
from django.db.models import Count, QuerySet

from .models import Observation, Source, Status

__all__ = ["Source", "Status", "all_observations", "counts_per_species", "has_observations_from",
           "observation_with_relations", "observations_from", "occurrences", "public_extent"]


def all_observations() -> QuerySet[Observation]:
    """Every observation (the model's default order: newest first)."""
    return Observation.objects.all()


def observations_from(source: str | None) -> QuerySet[Observation]:
    """The observations from ``source`` (a :class:`Source` value); every observation for None."""
    return all_observations() if source is None else Observation.objects.filter(source=source)


def has_observations_from(source: str) -> bool:
    """Whether any observation came from ``source`` (a :class:`Source` value)."""
    return Observation.objects.filter(source=source).exists()


def occurrences() -> QuerySet[Observation]:
    """The observations that are Darwin Core occurrences: those whose taxon has a scientific name (a city sound
    such as ``siren`` is no organism, a soundscape no taxon)."""
    return Observation.objects.exclude(species__scientific_name="")


def observation_with_relations(pk: int) -> Observation | None:
    """Observation ``pk`` with its species, recording and observer loaded (one query), or None."""
    return Observation.objects.select_related("species", "recording", "observer").filter(pk=pk).first()


def public_extent() -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of every observation's public position, or None when there is none."""
    return Observation.objects.order_by().aggregate(box=Extent("public_location"))["box"]


def counts_per_species() -> dict[int, int]:
    """Species id → number of observations, for every species observed at least once."""
    return dict(Observation.objects.order_by().values_list("species_id").annotate(n=Count("id")))

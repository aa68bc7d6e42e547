"""The observations' read side for other apps (the map, its exports and species pages): querysets and facts.

Other apps read observations through these functions and the vocabulary re-exported here (:class:`Source`,
:class:`Status`), never through :mod:`server.observations.models`; SQL composed elsewhere reads the relation
of :mod:`server.observations.sql_relations`. A queryset returned here is unordered unless its docstring says
otherwise, and holds every observation: privacy (obscured positions, coarse dates) is the caller's to apply
where it shows them.
"""
from __future__ import annotations

from .models import Observation, Source, Status

__all__ = ["Source", "Status", "has_observations_from"]


def has_observations_from(source: str) -> bool:
    """Whether any observation came from ``source`` (a :class:`Source` value)."""
    return Observation.objects.filter(source=source).exists()

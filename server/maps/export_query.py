"""The observations an export covers: map filters plus an optional bbox on public positions."""
from __future__ import annotations

from server.observations.filters import parse_bbox
from server.observations.public_reads import occurrences

from .filters import MapFilters, apply_map_filters


def export_queryset(filters: MapFilters, bbox: str | None):
    """Exports are shared data: obscured records are filtered at their published date, for everyone.

    Every format is Darwin Core occurrences, so a record whose taxon has no scientific name (a city
    sound such as ``siren``: not an organism) is left out; no export carries an empty ``scientificName``.
    """
    qs = apply_map_filters(occurrences(), filters, coarse=True)
    if bbox:
        qs = qs.filter(public_location__intersects=parse_bbox(bbox))
    return qs

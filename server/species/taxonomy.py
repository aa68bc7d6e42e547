"""The catalogue as a tree: lineages, the community taxon of identifications at mixed ranks, and the
higher classification Darwin Core records carry.

The functions over lineages are pure; :func:`lineages` and :func:`classifications` are the database
reads that feed them (the catalogue is small: one query over every row). A *lineage* is the tuple of
labels from a taxon up to its root, the taxon first.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import TAXON_RANKS, Kind, Rank, Species

Lineage = tuple[str, ...]
AGREEMENT = Fraction(2, 3)
# the kingdom a record names when its lineage stops below one (a row added without a parent)
KINGDOM_BY_KIND = {Kind.BIRD: "Animalia", Kind.AMPHIBIAN: "Animalia"}
DWC_RANK_TERMS = (Rank.KINGDOM, Rank.CLASS, Rank.ORDER, Rank.FAMILY, Rank.GENUS)


def lineage_of(label: str, parents: Mapping[str, str | None]) -> Lineage:
    """``label`` followed by its ancestors in ``parents`` (label -> parent label); stops at a root, an
    unknown label or a repeated one."""
    chain = [label]
    while (parent := parents.get(chain[-1])) and parent not in chain:
        chain.append(parent)
    return tuple(chain)


def community_taxon(labels: Sequence[str], lineages: Mapping[str, Lineage],
                    agreement: Fraction = AGREEMENT) -> tuple[str | None, int]:
    """The taxon that more than ``agreement`` of the identifications support, as iNaturalist's
    community taxon: the deepest such taxon, and how many identifications support it.

    For a candidate taxon T (any taxon in an identification's lineage): an identification *supports* T
    when it names T or a descendant of T; one that names an ancestor of T is neutral (it is not wrong,
    only less precise); every other one is *against*. T qualifies when support / (support + against)
    exceeds ``agreement``. A label missing from ``lineages`` is its own one-element lineage.
    (None, 0) when nothing qualifies or ``labels`` is empty.
    """
    chains = [lineages.get(label, (label,)) for label in labels]
    best: tuple[int, str, int] | None = None   # (depth from root, taxon, support)
    candidates = {taxon for chain in chains for taxon in chain}
    for taxon in candidates:
        support = sum(taxon in chain for chain in chains)
        own = lineages.get(taxon, (taxon,))
        against = sum(taxon not in chain and chain[0] not in own for chain in chains)
        if support and Fraction(support, support + against) > agreement:
            depth = len(own)
            if best is None or (depth, support) > (best[0], best[2]):
                best = (depth, taxon, support)
    return (best[1], best[2]) if best else (None, 0)


def research_rank(rank: str) -> bool:
    """Only a species-rank taxon can make an observation research grade (a genus, family or "unknown
    bird" consensus leaves it needing an identification)."""
    return rank == Rank.SPECIES


def classification(chain: Iterable[tuple[str, str]], kind: str) -> dict[str, str]:
    """Darwin Core's higher-classification terms (``kingdom``, ``class``, ``order``, ``family``, ``genus``)
    from a lineage given as (rank, scientific name) pairs; ``kingdom`` falls back to the kind's kingdom."""
    named = {rank: name for rank, name in chain if rank in DWC_RANK_TERMS and name}
    out = {str(rank): named.get(rank, "") for rank in DWC_RANK_TERMS}
    out["kingdom"] = out["kingdom"] or KINGDOM_BY_KIND.get(kind, "")
    return out


def lineages(labels: Iterable[str] | None = None) -> dict[str, Lineage]:
    """Label -> lineage for ``labels`` (every catalogue row when None)."""
    parents = dict(Species.objects.values_list("label", "parent__label"))
    wanted = parents if labels is None else labels
    return {label: lineage_of(label, parents) for label in wanted}


def rank_of(labels: Iterable[str]) -> dict[str, str]:
    return dict(Species.objects.filter(label__in=list(labels)).values_list("label", "rank"))


def classifications() -> dict[int, dict[str, str]]:
    """Species id -> its Darwin Core higher classification, for every taxon in the catalogue."""
    rows = {pk: (label, parent, rank, sci, kind) for pk, label, parent, rank, sci, kind in
            Species.objects.values_list("pk", "label", "parent_id", "rank", "scientific_name", "kind")}
    out: dict[int, dict[str, str]] = {}
    for pk, (_label, _parent, rank, _sci, kind) in rows.items():
        if rank not in TAXON_RANKS:
            continue
        chain, seen, at = [], set(), pk
        while at is not None and at not in seen:
            seen.add(at)
            chain.append((rows[at][2], rows[at][3]))
            at = rows[at][1]
        out[pk] = classification(chain, kind)
    return out


CACHE_TTL_S = 30.0
_cache: dict[str, tuple[float, dict[int, dict[str, str]]]] = {}


def classification_of(species_id: int) -> dict[str, str]:
    """The Darwin Core higher classification of one catalogue row (empty terms for a non-taxon)."""
    now = time.monotonic()
    hit = _cache.get("all")
    if hit is None or now - hit[0] >= CACHE_TTL_S:
        hit = (now, classifications())
        _cache["all"] = hit
    return hit[1].get(species_id) or {str(rank): "" for rank in DWC_RANK_TERMS}


@receiver([post_save, post_delete], sender=Species, dispatch_uid="species.taxonomy.clear")
def clear(**_kwargs) -> None:
    _cache.clear()

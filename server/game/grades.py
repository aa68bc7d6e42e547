"""Quality-grade rules (pure; documented in README.md).

* An observation's *identifications* are the observer's own claim plus one per identifier.
* **research** — at least ``MIN_IDS`` identifications support the same species and strictly more
  than 2/3 of those that take a side do (the *community taxon*), and no data-quality metric is voted
  down. A community taxon above species (a genus, family, "unknown bird") becomes the observation's
  taxon but leaves it needing an identification.
* **needs_id** — otherwise, while the data quality holds.
* **casual** — a data-quality metric (date, location, wild, audible) has at least
  ``min_votes_against`` "no" votes and more "no" than "yes" votes (agreement, as in
  iNaturalist's data-quality assessment: one voter alone never downgrades); or the observation
  started casual (classifier evidence too weak or GPS too coarse) and no other person has
  identified it yet.

* An **expert label** (a researcher's own review label, not one propagated to a cluster) makes the
  observation research grade with that label as its taxon (a species-rank one; a higher taxon leaves
  it needing an identification), unless a data-quality metric fails.
* The observation's **taxon** (its species) is the expert label, else the community taxon once at
  least ``MIN_IDS`` identifications support it, else the first label (the observer's claim, or a label
  propagated from a reviewed medoid), as iNaturalist's observation taxon follows its community taxon.

The classifier's confidence is *evidence*, not a vote: it never counts as an identification;
it only decides the starting grade and the review-queue priority.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

MIN_IDS = 2
AGREEMENT = Fraction(2, 3)
MIN_VOTES_AGAINST = 2  # default of settings.DQA_MIN_VOTES_AGAINST
TaxonRule = Callable[[list[str]], tuple[str | None, int]]   # labels -> (community taxon or None, support)


@dataclass(frozen=True)
class GradeResult:
    status: str
    community_taxon: str | None
    agreeing: int
    total: int


def community_taxon(labels: list[str]) -> tuple[str | None, int]:
    """The label named by more than 2/3 of ``labels`` (and how many name it), else (None, top count)."""
    if not labels:
        return None, 0
    label, count = Counter(labels).most_common(1)[0]
    return (label if Fraction(count, len(labels)) > AGREEMENT else None), count


def quality_fails(votes: list[tuple[str, bool]], min_votes_against: int = MIN_VOTES_AGAINST) -> bool:
    """True when some metric has at least ``min_votes_against`` "no" votes and more "no" than "yes".

    ``votes`` holds (metric, agrees), one per voter and metric, the observer's own excluded.
    """
    against: Counter[str] = Counter(metric for metric, agrees in votes if not agrees)
    support: Counter[str] = Counter(metric for metric, agrees in votes if agrees)
    return any(n >= min_votes_against and n > support[metric] for metric, n in against.items())


def _any_rank(label: str) -> bool:
    return True


def grade(labels: list[str], votes: list[tuple[str, bool]], started_casual: bool,
          min_votes_against: int = MIN_VOTES_AGAINST, expert_label: str | None = None,
          taxon_of: TaxonRule = community_taxon, research_taxon: Callable[[str], bool] = _any_rank) -> GradeResult:
    """The quality grade from identifications (observer's claim first), quality votes, the start and a
    researcher's own review label (``expert_label``).

    ``taxon_of`` finds the community taxon (default: the exact label named by more than 2/3; the server
    passes the catalogue's rank-aware rule, where naming an ancestor is neutral and disagreeing species
    meet at their common ancestor). Only a taxon for which ``research_taxon`` holds (a species, not a
    genus, family or "unknown bird") makes the observation research grade; another one leaves it needing
    an identification."""
    taxon, count = taxon_of(labels)
    total = len(labels)
    if quality_fails(votes, min_votes_against):
        return GradeResult("casual", expert_label or taxon, count, total)
    if expert_label is not None:
        status = "research" if research_taxon(expert_label) else "needs_id"
        return GradeResult(status, expert_label, labels.count(expert_label), total)
    if taxon is not None and count >= MIN_IDS and research_taxon(taxon):
        return GradeResult("research", taxon, count, total)
    if started_casual and total <= 1:
        return GradeResult("casual", taxon, count, total)
    return GradeResult("needs_id", taxon, count, total)


def observation_taxon(labels: list[str], expert_label: str | None = None,
                      taxon_of: TaxonRule = community_taxon) -> str:
    """The taxon the observation shows: ``expert_label``, else the community taxon of ``labels`` (by
    ``taxon_of``, at any rank) when at least ``MIN_IDS`` identifications support it, else ``labels[0]`` (the base claim).
    ``labels`` is never empty."""
    if expert_label is not None:
        return expert_label
    taxon, support = taxon_of(labels)
    return taxon if taxon is not None and support >= MIN_IDS else labels[0]

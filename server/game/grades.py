"""Quality-grade rules (pure; documented in README.md).

* An observation's *identifications* are the observer's own claim plus one per identifier.
* **research** — at least ``MIN_IDS`` identifications and strictly more than 2/3 of them name
  the same species (the *community taxon*), and no data-quality metric is voted down.
* **needs_id** — otherwise, while the data quality holds.
* **casual** — a data-quality metric (date, location, wild, audible) has at least
  ``min_votes_against`` "no" votes and more "no" than "yes" votes (agreement, as in
  iNaturalist's data-quality assessment: one voter alone never downgrades); or the observation
  started casual (classifier evidence too weak or GPS too coarse) and no other person has
  identified it yet.

* An **expert label** (a researcher's own review label, not one propagated to a cluster) makes the
  observation research grade with that label as its taxon, unless a data-quality metric fails.
* The observation's **taxon** (its species) is the expert label, else the community taxon once there
  are at least ``MIN_IDS`` identifications, else the first label (the observer's claim, or a label
  propagated from a reviewed medoid), as iNaturalist's observation taxon follows its community taxon.

The classifier's confidence is *evidence*, not a vote: it never counts as an identification;
it only decides the starting grade and the review-queue priority.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

MIN_IDS = 2
AGREEMENT = Fraction(2, 3)
MIN_VOTES_AGAINST = 2  # default of settings.DQA_MIN_VOTES_AGAINST


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


def grade(labels: list[str], votes: list[tuple[str, bool]], started_casual: bool,
          min_votes_against: int = MIN_VOTES_AGAINST, expert_label: str | None = None) -> GradeResult:
    """The quality grade from identifications (observer's claim first), quality votes, the start and a
    researcher's own review label (``expert_label``)."""
    taxon, count = community_taxon(labels)
    total = len(labels)
    if quality_fails(votes, min_votes_against):
        return GradeResult("casual", expert_label or taxon, count, total)
    if expert_label is not None:
        return GradeResult("research", expert_label, labels.count(expert_label), total)
    if taxon is not None and total >= MIN_IDS:
        return GradeResult("research", taxon, count, total)
    if started_casual and total <= 1:
        return GradeResult("casual", taxon, count, total)
    return GradeResult("needs_id", taxon, count, total)


def observation_taxon(labels: list[str], expert_label: str | None = None) -> str:
    """The species the observation shows: ``expert_label``, else the community taxon of ``labels`` when
    there are at least ``MIN_IDS``, else ``labels[0]`` (the base claim). ``labels`` is never empty."""
    if expert_label is not None:
        return expert_label
    taxon, _ = community_taxon(labels)
    return taxon if taxon is not None and len(labels) >= MIN_IDS else labels[0]

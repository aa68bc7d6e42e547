"""Quality-grade rules (pure; documented in README.md).

* An observation's *identifications* are the observer's own claim plus one per identifier.
* **research** — at least ``MIN_IDS`` identifications and strictly more than 2/3 of them name
  the same species (the *community taxon*), and no data-quality metric is voted down.
* **needs_id** — otherwise, while the data quality holds.
* **casual** — a data-quality metric (date, location, wild, audible) has more "no" than "yes"
  votes; or the observation started casual (classifier evidence too weak or GPS too coarse) and
  no other person has identified it yet.

The classifier's confidence is *evidence*, not a vote: it never counts as an identification;
it only decides the starting grade and the review-queue priority.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

MIN_IDS = 2
AGREEMENT = Fraction(2, 3)


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


def quality_fails(votes: list[tuple[str, bool]]) -> bool:
    """True when any metric has more "no" than "yes" votes; ``votes`` holds (metric, agrees)."""
    balance: Counter[str] = Counter()
    for metric, agrees in votes:
        balance[metric] += 1 if agrees else -1
    return any(v < 0 for v in balance.values())


def grade(labels: list[str], votes: list[tuple[str, bool]], started_casual: bool) -> GradeResult:
    """The quality grade from identifications (observer's claim first), quality votes and the start."""
    taxon, count = community_taxon(labels)
    total = len(labels)
    if quality_fails(votes):
        return GradeResult("casual", taxon, count, total)
    if taxon is not None and total >= MIN_IDS:
        return GradeResult("research", taxon, count, total)
    if started_casual and total <= 1:
        return GradeResult("casual", taxon, count, total)
    return GradeResult("needs_id", taxon, count, total)

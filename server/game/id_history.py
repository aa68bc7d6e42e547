"""The identification history of one observation as the browser shows it: every identification (withdrawn
ones included and marked), every change of species with its cause, the review label, the data-quality
tallies and what the asking user may do.

Nothing here locates an observation: no position, no observation time, no recordist. The observer is
named only as ``own`` for the asking user."""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from . import identifications
from .models import Identification, QualityMetric, QualityVote, ReviewLabel, SpeciesChange

if TYPE_CHECKING:
    from server.observations.models import Observation


def _species(s) -> dict:
    return {"label": s.label, "common_name": s.common_name, "scientific_name": s.scientific_name}


def quality_tallies(obs: Observation) -> dict[str, dict[str, int]]:
    """Per metric, how many voters (the observer excluded) said it holds and how many said it fails."""
    votes = QualityVote.objects.filter(observation=obs).exclude(voter_id=obs.observer_id)
    counts = Counter(votes.values_list("metric", "agrees"))
    return {m: {"agree": counts[(m, True)], "disagree": counts[(m, False)]} for m in QualityMetric.values}


def viewer(obs: Observation, user) -> dict:
    """What the asking user may do here and has done already."""
    if not user.is_authenticated:
        return {"signed_in": False, "own": False, "may_identify": False, "identification": None, "votes": {}}
    mine = identifications.current_identifications(obs).filter(identifier=user).select_related("species").first()
    votes = dict(QualityVote.objects.filter(observation=obs, voter=user).values_list("metric", "agrees"))
    return {"signed_in": True, "own": obs.observer_id == user.pk,
            "may_identify": identifications.may_identify(user),
            "identification": mine.species.label if mine else None, "votes": votes}


def history(obs: Observation, user) -> dict:
    """The observation's identification history (see the module docstring)."""
    grade = identifications.current_grade(obs)
    idents = Identification.objects.filter(observation=obs).select_related("species", "identifier")
    changes = SpeciesChange.objects.filter(observation=obs).select_related("previous_species", "species", "actor")
    label = ReviewLabel.objects.filter(observation=obs).select_related("species", "reviewer").first()
    return {
        "observation": obs.pk, "species": _species(obs.species), "status": obs.status,
        "grade": {"status": grade.status, "community_taxon": grade.community_taxon, "agreeing": grade.agreeing,
                  "identifications": grade.total},
        "observer_claim": _species(identifications.observer_claim(obs)),
        "results": [{"id": i.pk, "identifier": i.identifier.username, "species": i.species.label,
                     "common_name": i.species.common_name, "kind": i.kind, "created_at": i.created_at,
                     "current": i.withdrawn_at is None, "withdrawn_at": i.withdrawn_at} for i in idents],
        "species_changes": [{"previous_species": c.previous_species.label, "species": c.species.label,
                             "cause": c.cause, "actor": c.actor.username if c.actor else None,
                             "created_at": c.created_at} for c in changes],
        "review": ({"species": label.species.label, "reviewer": label.reviewer.username,
                    "propagated": label.propagated, "created_at": label.created_at} if label else None),
        "quality": quality_tallies(obs),
        "viewer": viewer(obs, user),
    }

"""Community identification and data-quality votes; regrading an observation after each."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from server.common.errors import ApiError
from server.common.permissions import is_researcher
from server.observations import player_reads
from server.observations.services import set_species, set_status
from server.recordings.outcome import CASUAL_ACCURACY_M, CASUAL_CONFIDENCE
from server.species import taxonomy
from server.species.lookup import named_class_labels, species_by_label

from . import grades
from .ledger import AwardBatch, award, total_xp
from .levels import IDENTIFY_LEVEL, level_for
from .models import (Identification, IdKind, PointEvent, QualityMetric, QualityVote, ReviewLabel, SpeciesChange,
                     TaxonCause)

if TYPE_CHECKING:
    from server.observations.models import Observation
    from server.species.models import Species


def may_identify(user) -> bool:
    return is_researcher(user) or level_for(total_xp(user.pk)) >= IDENTIFY_LEVEL


def _locked_observation(observation_id) -> Observation:
    obs = player_reads.locked(observation_id)
    if obs is None:
        raise ApiError("not_found", "No such observation.", status.HTTP_404_NOT_FOUND)
    return obs


def started_casual(obs: Observation) -> bool:
    """The pipeline's own reasons to start casual: weak classifier evidence (except in a kind conflict,
    which needs an identification whatever the model's score for the claim) or a coarse GPS fix."""
    weak = obs.confidence is not None and obs.confidence < CASUAL_CONFIDENCE and not obs.kind_conflict
    return weak or (obs.coordinate_uncertainty_m or 0) > CASUAL_ACCURACY_M


def expert_label(obs: Observation) -> str | None:
    """The species of a researcher's own review label of ``obs`` (a propagated one does not count)."""
    return ReviewLabel.objects.filter(observation=obs, propagated=False).values_list("species__label",
                                                                                     flat=True).first()


def observer_claim(obs: Observation) -> Species:
    """The species the observer named: the first species change's ``previous_species``, else the current one."""
    first = SpeciesChange.objects.filter(observation=obs).select_related("previous_species").first()
    return first.previous_species if first is not None else obs.species


def base_label(obs: Observation) -> str:
    """The first of the labels the grade weighs: a label propagated from a reviewed medoid, else the
    observer's claim."""
    propagated = ReviewLabel.objects.filter(observation=obs, propagated=True).values_list("species__label",
                                                                                          flat=True).first()
    return propagated or observer_claim(obs).label


def current_identifications(obs: Observation):
    """The identifications that count: not withdrawn, oldest first."""
    return obs.identifications.filter(withdrawn_at__isnull=True).order_by("id")


def taxon_rules() -> tuple[grades.TaxonRule, Callable[[str], bool]]:
    """The catalogue's rank-aware community taxon (``species.taxonomy.community_taxon`` over every row's
    lineage: naming an ancestor is neutral, disagreeing species meet at their common ancestor) and which
    labels may be research grade: species-rank taxa and city-sound classes, never a genus, family,
    "unknown bird" or soundscape."""
    chains = taxonomy.lineages()
    named = named_class_labels()

    def taxon_of(labels: list[str]) -> tuple[str | None, int]:
        return taxonomy.community_taxon(labels, chains)

    def research_taxon(label: str) -> bool:
        return label in named

    return taxon_of, research_taxon


def grade_inputs(obs: Observation) -> tuple[list[str], list[tuple[str, bool]], str | None]:
    """(labels: the base label then each current identification's, quality votes but the observer's,
    the expert label)."""
    labels = [base_label(obs)] + list(current_identifications(obs).values_list("species__label", flat=True))
    votes = list(obs.quality_votes.exclude(voter_id=obs.observer_id).values_list("metric", "agrees"))
    return labels, votes, expert_label(obs)


def current_grade(obs: Observation) -> grades.GradeResult:
    """The grade from the base label, every current identification, every quality vote but the
    observer's and a researcher's own review label."""
    labels, votes, expert = grade_inputs(obs)
    taxon_of, research_taxon = taxon_rules()
    return grades.grade(labels, votes, started_casual(obs), settings.DQA_MIN_VOTES_AGAINST, expert, taxon_of,
                        research_taxon)


def change_species(obs: Observation, label: str, cause: str, actor=None) -> bool:
    """Give ``obs`` the species ``label``, appending a :class:`SpeciesChange` row; False when it has it."""
    if obs.species.label == label:
        return False
    species = species_by_label(label)
    if species is None:
        raise LookupError(f"no species {label!r} in the catalogue")
    SpeciesChange.objects.create(observation=obs, previous_species=obs.species, species=species, cause=cause,
                                 actor=actor)
    set_species(obs, species, reviewed=cause != TaxonCause.COMMUNITY)
    return True


def regrade(obs: Observation, batch: AwardBatch, actor=None) -> grades.GradeResult:
    """Apply the taxon (:func:`grades.observation_taxon`: the community taxon becomes the observation's
    species, as on iNaturalist) and the grade; reaching research grade awards the observer and every
    identifier naming the taxon (once per identifier and observation, however often they re-identify)."""
    labels, votes, expert = grade_inputs(obs)
    taxon_of, research_taxon = taxon_rules()
    result = grades.grade(labels, votes, started_casual(obs), settings.DQA_MIN_VOTES_AGAINST, expert, taxon_of,
                          research_taxon)
    change_species(obs, grades.observation_taxon(labels, expert, taxon_of), TaxonCause.COMMUNITY, actor)
    set_status(obs, result.status)
    if result.status == "research" and obs.observer_id:
        award(obs.observer_id, "research_grade", f"obs:{obs.pk}", batch=batch, observation_id=obs.pk,
              species_label=obs.species.label)
        rewarded = set(PointEvent.objects.filter(observation=obs, rule="identification_agreed")
                       .values_list("player_id", flat=True))
        for ident in current_identifications(obs).filter(species__label=result.community_taxon):
            if ident.identifier_id not in rewarded:
                award(ident.identifier_id, "identification_agreed", f"ident:{ident.pk}", batch=batch,
                      observation_id=obs.pk)
    return result


def identify(user, observation_id, species_label: str, kind: str,
             batch: AwardBatch) -> tuple[Identification, grades.GradeResult]:
    """A new current identification by ``user``; one naming another species than the user's current one
    withdraws that one (it stays in the history). Refused, changing nothing: ``invalid_kind`` (400),
    ``level_too_low`` (403), ``unknown_species`` (400), ``not_found`` (404), ``own_observation`` (403),
    ``agree_mismatch`` (400, 'agree' names another species than the observation's), ``already_identified``
    (409, the user's current identification names that species)."""
    if kind not in IdKind.values:
        raise ApiError("invalid_kind", "kind is 'agree' or 'suggest'.", fields={"kind": "agree|suggest"})
    if not may_identify(user):
        raise ApiError("level_too_low", f"Identifying needs level {IDENTIFY_LEVEL}.", status.HTTP_403_FORBIDDEN)
    species = species_by_label(str(species_label or "").strip())
    if species is None:
        raise ApiError("unknown_species", "That species is not in the catalogue.", fields={"species": "unknown"})
    obs = _locked_observation(observation_id)
    if obs.observer_id == user.pk:
        raise ApiError("own_observation", "You cannot identify your own recording.", status.HTTP_403_FORBIDDEN)
    if kind == IdKind.AGREE and species.pk != obs.species_id:
        raise ApiError("agree_mismatch", f"'agree' confirms {obs.species.label}; use 'suggest' for another species.",
                       fields={"species": "differs from the current identification"})
    mine = current_identifications(obs).filter(identifier=user).first()
    if mine is not None and mine.species_id == species.pk:
        raise ApiError("already_identified", "Your current identification names this species already.",
                       status.HTTP_409_CONFLICT)
    try:
        with transaction.atomic():
            if mine is not None:
                mine.withdrawn_at = timezone.now()
                mine.save(update_fields=["withdrawn_at"])
            ident = Identification.objects.create(observation=obs, identifier=user, species=species, kind=kind)
    except IntegrityError:
        raise ApiError("already_identified", "You identified this observation already.",
                       status.HTTP_409_CONFLICT) from None
    return ident, regrade(obs, batch, actor=user)


def withdraw(user, observation_id, batch: AwardBatch) -> grades.GradeResult:
    """Withdraw ``user``'s current identification (kept in the history, no longer counted) and regrade.
    ``not_found`` (404) when the observation does not exist or the user has no current identification."""
    obs = _locked_observation(observation_id)
    updated = current_identifications(obs).filter(identifier=user).update(withdrawn_at=timezone.now())
    if not updated:
        raise ApiError("not_found", "You have no current identification of this observation.",
                       status.HTTP_404_NOT_FOUND)
    return regrade(obs, batch, actor=user)


def vote_quality(user, observation_id, metric: str, agrees: bool, batch: AwardBatch) -> grades.GradeResult:
    if metric not in QualityMetric.values:
        raise ApiError("invalid_metric", f"metric is one of {', '.join(QualityMetric.values)}.",
                       fields={"metric": "unknown"})
    if not isinstance(agrees, bool):
        raise ApiError("invalid", "agrees must be true or false.", fields={"agrees": "boolean"})
    if not may_identify(user):
        raise ApiError("level_too_low", f"Voting needs level {IDENTIFY_LEVEL}.", status.HTTP_403_FORBIDDEN)
    obs = _locked_observation(observation_id)
    if obs.observer_id == user.pk:
        raise ApiError("own_observation", "You cannot vote on the quality of your own recording.",
                       status.HTTP_403_FORBIDDEN)
    try:
        with transaction.atomic():
            QualityVote.objects.create(observation=obs, voter=user, metric=metric, agrees=agrees)
    except IntegrityError:
        raise ApiError("already_voted", "You voted on this already.", status.HTTP_409_CONFLICT) from None
    return regrade(obs, batch, actor=user)

"""Community identification and data-quality votes; regrading an observation after each."""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework import status

from server.common.errors import ApiError
from server.common.permissions import is_researcher
from server.observations.models import Observation
from server.observations.services import set_status
from server.recordings.outcome import CASUAL_ACCURACY_M, CASUAL_CONFIDENCE
from server.species.models import Species

from . import grades
from .ledger import AwardBatch, award, total_xp
from .levels import IDENTIFY_LEVEL, level_for
from .models import Identification, IdKind, QualityMetric, QualityVote, ReviewLabel


def may_identify(user) -> bool:
    return is_researcher(user) or level_for(total_xp(user.pk)) >= IDENTIFY_LEVEL


def _locked_observation(observation_id) -> Observation:
    obs = (Observation.objects.select_for_update(of=("self",)).select_related("species")
           .filter(pk=observation_id).first())
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


def current_grade(obs: Observation) -> grades.GradeResult:
    """The grade from the observer's claim, every identification, every quality vote but the observer's
    and a researcher's own review label."""
    labels = [obs.species.label] + list(obs.identifications.order_by("id").values_list("species__label", flat=True))
    votes = list(obs.quality_votes.exclude(voter_id=obs.observer_id).values_list("metric", "agrees"))
    result = grades.grade(labels, votes, started_casual(obs), settings.DQA_MIN_VOTES_AGAINST, expert_label(obs))
    if result.status == "research" and result.community_taxon != obs.species.label:
        # the community disagrees with the observation's species: it needs an expert, not a grade
        return grades.GradeResult("needs_id", result.community_taxon, result.agreeing, result.total)
    return result


def regrade(obs: Observation, batch: AwardBatch) -> grades.GradeResult:
    """Apply the grade; reaching research grade awards the observer and every agreeing identifier."""
    result = current_grade(obs)
    set_status(obs, result.status)
    if result.status == "research" and obs.observer_id:
        award(obs.observer_id, "research_grade", f"obs:{obs.pk}", batch=batch, observation_id=obs.pk,
              species_label=obs.species.label)
        for ident in obs.identifications.filter(species__label=result.community_taxon):
            award(ident.identifier_id, "identification_agreed", f"ident:{ident.pk}", batch=batch,
                  observation_id=obs.pk)
    return result


def identify(user, observation_id, species_label: str, kind: str, batch: AwardBatch) -> tuple[Identification, grades.GradeResult]:
    if kind not in IdKind.values:
        raise ApiError("invalid_kind", "kind is 'agree' or 'suggest'.", fields={"kind": "agree|suggest"})
    if not may_identify(user):
        raise ApiError("level_too_low", f"Identifying needs level {IDENTIFY_LEVEL}.", status.HTTP_403_FORBIDDEN)
    species = Species.objects.filter(label=str(species_label or "").strip()).first()
    if species is None:
        raise ApiError("unknown_species", "That species is not in the catalogue.", fields={"species": "unknown"})
    obs = _locked_observation(observation_id)
    if obs.observer_id == user.pk:
        raise ApiError("own_observation", "You cannot identify your own recording.", status.HTTP_403_FORBIDDEN)
    if kind == IdKind.AGREE:
        taxon = current_grade(obs).community_taxon or obs.species.label
        if species.label != taxon:
            raise ApiError("agree_mismatch", f"'agree' confirms {taxon}; use 'suggest' for another species.",
                           fields={"species": "differs from the current identification"})
    try:
        with transaction.atomic():
            ident = Identification.objects.create(observation=obs, identifier=user, species=species, kind=kind)
    except IntegrityError:
        raise ApiError("already_identified", "You identified this observation already.",
                       status.HTTP_409_CONFLICT) from None
    return ident, regrade(obs, batch)


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
    return regrade(obs, batch)

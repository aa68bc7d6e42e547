"""The reads the game makes of observations: one observation by id (plain, with its species, or locked for a
regrade), a player's observations (the previous one before an award, those near a site), a species'
observations (its oldest, where others heard it, the most recorded species), the queues of recorded
observations (to identify, to review, to quiz on) and small per-id answers (species label, grade).

The game never queries the observations' table itself; it reads through these functions, which return
model instances, querysets the game may filter further by its own relations, or small dataclasses.
Positions tested on a player's behalf go through :func:`.publication.within_q` (public positions for
everyone but researchers).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Count, QuerySet

from .models import Observation, Status
from .publication import published_instant, within_q

_PRIOR_SQL = """
SELECT
  prev.id, prev.lng, prev.lat, prev.observed_at, prev.uncertainty,
  (SELECT count(*) FROM (SELECT 1 FROM observations_observation e
                         WHERE e.species_id = %(species)s AND e.id <> %(obs)s LIMIT %(count_up_to)s) earlier)
FROM (SELECT 1) one
LEFT JOIN LATERAL (
  SELECT o.id, ST_X(o.location) AS lng, ST_Y(o.location) AS lat, o.observed_at,
         o.coordinate_uncertainty_m AS uncertainty
  FROM observations_observation o
  WHERE %(recorded_obs)s AND o.observer_id = %(player)s AND o.recording_id IS NOT NULL
    AND o.observed_at <= %(at)s AND o.id <> %(obs)s
  ORDER BY o.observed_at DESC, o.id DESC LIMIT 1) prev ON true
"""


@dataclass(frozen=True)
class PreviousObservation:
    """The observer's previous recorded observation, at its true position."""
    id: int
    lat: float
    lng: float
    observed_at: datetime
    coordinate_uncertainty_m: float | None


@dataclass(frozen=True)
class PriorObservations:
    """What came before one observation (see :func:`before`)."""
    previous: PreviousObservation | None
    earlier_of_species: int  # other observations of the species, counted up to the ``count_up_to`` asked for


def before(obs: Observation, count_up_to: int) -> PriorObservations:
    """In one query: the observer's latest other recorded observation made at or before ``obs`` (None when
    ``obs`` has no recording or no observer, or there is none), and how many other observations of its
    species exist, counted up to ``count_up_to``."""
    params = {"recorded_obs": obs.recording_id is not None, "player": obs.observer_id, "obs": obs.pk,
              "species": obs.species_id, "at": obs.observed_at, "count_up_to": count_up_to}
    with connection.cursor() as cur:
        cur.execute(_PRIOR_SQL, params)
        prev_id, prev_lng, prev_lat, prev_at, prev_unc, earlier = cur.fetchone()
    previous = None if prev_id is None else PreviousObservation(prev_id, prev_lat, prev_lng, prev_at, prev_unc)
    return PriorObservations(previous, earlier)


def _observations(with_species: bool) -> QuerySet[Observation]:
    return Observation.objects.select_related("species") if with_species else Observation.objects.all()


def observation(pk, *, with_species: bool = False) -> Observation | None:
    """The observation ``pk`` (its species joined with ``with_species``), or None."""
    return _observations(with_species).filter(pk=pk).first()


def require_observation(pk, *, with_species: bool = False) -> Observation:
    """The observation ``pk`` (its species joined with ``with_species``); ``Observation.DoesNotExist`` when
    there is none."""
    return _observations(with_species).get(pk=pk)


def locked(pk) -> Observation | None:
    """The observation ``pk`` with its species, its row locked for update (not the species'), or None.
    Call inside a transaction."""
    return (Observation.objects.select_for_update(of=("self",)).select_related("species")
            .filter(pk=pk).first())


def in_ids(ids: Iterable[int]) -> dict[int, Observation]:
    """Id → observation, for the ``ids`` that exist."""
    return {o.pk: o for o in Observation.objects.filter(pk__in=list(ids))}


def statuses(ids: Iterable[int]) -> dict[int, str]:
    """Id → quality grade (``Status``), for the ``ids`` that exist."""
    return dict(Observation.objects.filter(pk__in=list(ids)).values_list("pk", "status"))


def species_label(pk) -> str | None:
    """The label of the observation's species, or None when there is no such observation."""
    return Observation.objects.filter(pk=pk).values_list("species__label", flat=True).first()


def with_observer(ids: QuerySet) -> QuerySet[Observation]:
    """The observations among ``ids`` (a values queryset, used as a subquery) that have an observer."""
    return Observation.objects.filter(pk__in=ids, observer__isnull=False)


def recorded(pk) -> Observation | None:
    """The observation ``pk`` if it was made from a recording (its recording joined), else None."""
    return Observation.objects.filter(pk=pk, recording__isnull=False).select_related("recording").first()


def recorded_queue() -> QuerySet[Observation]:
    """Every observation made from a recording, with its recording and species joined, newest first."""
    return (Observation.objects.filter(recording__isnull=False).select_related("recording", "species")
            .order_by("-observed_at"))


def needing_identification(user) -> QuerySet[Observation]:
    """Others' recorded observations that need an identification and have a public clip, with their
    species, the most recently published first (an obscured one by its day)."""
    return (Observation.objects.filter(recording__isnull=False, status=Status.NEEDS_ID,
                                       public_clip_token__isnull=False)
            .exclude(observer=user).select_related("species").order_by(published_instant().desc(), "-id"))


def observed_near(user, species, point: Point, metres: float) -> bool:
    """Whether ``species`` was observed within ``metres`` of ``point``, as ``user`` may test it."""
    return Observation.objects.filter(within_q(user, point, metres), species=species).exists()


def quiz_candidates(player, exclude_ids: set[int], near: Point | None = None,
                    metres: float = 0.0) -> QuerySet[Observation]:
    """Others' observations of accepted recordings that have a public clip, not in ``exclude_ids``, with
    their species; with ``near``, only those within ``metres`` of it as ``player`` may test it."""
    qs = (Observation.objects.filter(recording__isnull=False, recording__status="accepted",
                                     public_clip_token__isnull=False)
          .exclude(observer=player).exclude(pk__in=exclude_ids).select_related("species"))
    return qs if near is None else qs.filter(within_q(player, near, metres))


def most_recorded_labels(excluding_species, limit: int) -> list[str]:
    """The labels of the species with the most recorded observations, ``excluding_species``, most first."""
    return list(Observation.objects.filter(recording__isnull=False).exclude(species=excluding_species)
                .values("species__label").annotate(n=Count("id")).order_by("-n")
                .values_list("species__label", flat=True)[:limit])


def oldest_of_species(species, limit: int) -> list[Observation]:
    """The species' oldest observations, in time order."""
    return list(Observation.objects.filter(species=species).order_by("observed_at", "id")[:limit])


def others_of_species(species_id: int, player_id: int, limit: int) -> QuerySet[Observation]:
    """Up to ``limit`` observations of the species by others than ``player_id``, with only what a public
    listing needs loaded (public position, time and its precision, obscured, observer), the most recently
    published first."""
    return (Observation.objects.filter(species_id=species_id).exclude(observer_id=player_id)
            .only("public_location", "observed_at", "date_precision", "obscured", "observer_id")
            .order_by(published_instant().desc(), "-id")[:limit])

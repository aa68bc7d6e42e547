"""Treasure hunt: record a target species at distinct places (min spacing) before time runs out."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.gis.measure import D
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from server.common.errors import ApiError
from server.observations import player_reads
from server.observations.publication import is_withheld, shown_observed_at

from ..ledger import AwardBatch, award
from ..models import Hunt, HuntFind

if TYPE_CHECKING:
    from server.observations.models import Observation

MIN_MINUTES, MAX_MINUTES = 10, 24 * 60
SPACING_M = 200.0
OTHERS_SHOWN = 200


def start(player, species, minutes: int = 60) -> Hunt:
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ApiError("invalid_duration", f"A hunt lasts {MIN_MINUTES} to {MAX_MINUTES} minutes.",
                       fields={"minutes": f"{MIN_MINUTES}-{MAX_MINUTES}"})
    now = timezone.now()
    if Hunt.objects.filter(player=player, ends_at__gt=now).exists():
        raise ApiError("hunt_running", "Finish your running hunt first.", status.HTTP_409_CONFLICT)
    return Hunt.objects.create(player=player, species=species, started_at=now,
                               ends_at=now + timedelta(minutes=minutes), min_spacing_m=SPACING_M)


def on_observation(obs: Observation, hunt_id: int, batch: AwardBatch) -> HuntFind | None:
    """Score the observation for the observer's running hunt of its species (``hunt_id``, found by
    context.load), if far enough from earlier finds."""
    hunt = Hunt.objects.select_for_update().filter(pk=hunt_id).first()
    if hunt is None:
        return None
    if hunt.finds.filter(location__distance_lte=(obs.location, D(m=hunt.min_spacing_m))).exists():
        return None
    with transaction.atomic():
        find = HuntFind.objects.create(hunt=hunt, observation=obs, location=obs.location)
    award(obs.observer_id, "hunt_find", f"hunt:{hunt.pk}:obs:{obs.pk}", batch=batch, observation_id=obs.pk,
          species_label=obs.species.label)
    return find


def summary(hunt: Hunt) -> dict:
    """The hunt, its finds, and where *others* found the species (public positions only; an obscured
    one with its date, not its time)."""
    now = timezone.now()
    others = player_reads.others_of_species(hunt.species_id, hunt.player_id, OTHERS_SHOWN)
    finds = list(hunt.finds.order_by("created_at"))
    return {
        "id": hunt.pk, "species": hunt.species.label, "started_at": hunt.started_at, "ends_at": hunt.ends_at,
        "active": hunt.ends_at > now, "seconds_left": max(0, int((hunt.ends_at - now).total_seconds())),
        "min_spacing_m": hunt.min_spacing_m, "score": len(finds),
        "finds": [{"observation": f.observation_id, "lat": f.location.y, "lng": f.location.x} for f in finds],
        "others": [{"lat": o.public_location.y, "lng": o.public_location.x, "obscured": o.obscured,
                    "observed_at": shown_observed_at(o, is_withheld(o, hunt.player))} for o in others],
    }


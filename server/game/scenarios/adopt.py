"""Adopt a bird: pick a species near a site, check in with a recording of it on consecutive days.

Each check-in day reveals the next fact (fixtures/game/species_facts.json). The streak rule,
with its one-missed-day grace, is :func:`server.game.streaks.next_streak`.
"""
from __future__ import annotations

from datetime import timedelta

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from server.common.errors import ApiError
from server.observations import player_reads

from ..geo import haversine_m
from ..ledger import AwardBatch, award
from ..models import Adoption, AdoptionCheckin, SpeciesFact
from ..streaks import next_streak

NEAR_SITE_M = 5_000
MAX_AGE = timedelta(hours=48)  # a check-in recording must be recent


def adopt(player, species, lat: float, lng: float) -> Adoption:
    """Adopt ``species`` at a site where it was observed within 5 km, as the player may know it: against
    public (for a sensitive species, obscured) positions, so the answer locates nothing the map hides."""
    site = Point(lng, lat, srid=4326)
    if not player_reads.observed_near(player, species, site, NEAR_SITE_M):
        raise ApiError("species_not_near", f"{species.common_name} has not been observed within "
                       f"{NEAR_SITE_M // 1000} km of that site.", fields={"species": "not near the site"})
    try:
        with transaction.atomic():
            return Adoption.objects.create(player=player, species=species, site=site)
    except IntegrityError:
        raise ApiError("already_adopted", "You have adopted this species already.", status.HTTP_409_CONFLICT) from None


def facts(adoption: Adoption) -> list[str]:
    return list(SpeciesFact.objects.filter(species=adoption.species).order_by("order")
                .values_list("text", flat=True)[:adoption.facts_revealed])


def checkin(player, adoption_id: int, observation_id: int, batch: AwardBatch, now=None) -> dict:
    now = now or timezone.now()
    adoption = Adoption.objects.select_for_update().filter(pk=adoption_id, player=player).first()
    if adoption is None:
        raise ApiError("not_found", "No such adoption.", status.HTTP_404_NOT_FOUND)
    obs = player_reads.observation(observation_id)
    if obs is None or obs.observer_id != player.pk:
        raise ApiError("not_your_observation", "Check in with one of your own recordings.", status.HTTP_403_FORBIDDEN)
    if obs.species_id != adoption.species_id:
        raise ApiError("wrong_species", "That recording is not of your adopted species.")
    if not now - MAX_AGE <= obs.observed_at <= now:
        raise ApiError("recording_too_old", "Check in with a recording from the last two days.")
    if haversine_m(obs.location.y, obs.location.x, adoption.site.y, adoption.site.x) > NEAR_SITE_M:
        raise ApiError("too_far_from_site", "That recording was made far from your adoption site.")
    day = obs.observed_at.date()
    if adoption.last_checkin_day is not None and day <= adoption.last_checkin_day:
        raise ApiError("already_checked_in", "You checked in for that day already.", status.HTTP_409_CONFLICT)
    try:
        with transaction.atomic():
            AdoptionCheckin.objects.create(adoption=adoption, observation=obs, day=day)
    except IntegrityError:
        raise ApiError("already_checked_in", "That recording was used for a check-in already.",
                       status.HTTP_409_CONFLICT) from None
    update = next_streak(adoption.last_checkin_day, day, adoption.streak, adoption.grace_used)
    adoption.streak, adoption.grace_used, adoption.last_checkin_day = update.streak, update.grace_used, day
    adoption.best_streak = max(adoption.best_streak, update.streak)
    total_facts = SpeciesFact.objects.filter(species=adoption.species).count()
    adoption.facts_revealed = min(total_facts, adoption.facts_revealed + 1)
    adoption.save(update_fields=["streak", "grace_used", "last_checkin_day", "best_streak", "facts_revealed"])
    award(player.pk, "adopt_checkin", f"adopt:{adoption.pk}:{day.isoformat()}", batch=batch,
          species_label=adoption.species.label)
    revealed = facts(adoption)
    return {"id": adoption.pk, "species": adoption.species.label, "streak": adoption.streak,
            "best_streak": adoption.best_streak, "grace_used": adoption.grace_used, "streak_broken": update.broken,
            "day": day, "new_fact": revealed[-1] if revealed else None, "facts": revealed}

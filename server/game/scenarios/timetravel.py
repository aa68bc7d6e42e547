"""Time travel: a species' past observations, in time order, become waypoints to visit.

A check-in unlocks the next waypoint when the player is within its radius (plus GPS accuracy,
capped), the visit time is the server's clock, and the speed from the previous check-in is
plausible on foot, bike or car.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone
from rest_framework import status

from server.common.errors import ApiError
from server.observations import player_reads
from server.observations.publication import shown_observed_at

from ..geo import haversine_m, speed_m_s
from ..ledger import AwardBatch, award
from ..models import TimeTravel

if TYPE_CHECKING:
    from server.observations.models import Observation

MAX_WAYPOINTS = 8
RADIUS_M = 150.0
MAX_ACCURACY_BONUS_M = 100.0
MAX_SPEED_M_S = 40.0  # 144 km/h


def route_observations(species, limit: int = MAX_WAYPOINTS) -> list[Observation]:
    """The species' oldest public observations, in time order (public positions only)."""
    return player_reads.oldest_of_species(species, limit)


def story(obs: Observation) -> dict:
    """A waypoint's story as everyone may read it: an obscured observation's date only, and no recordist,
    locality or source link (waypoints are public positions; the story must not undo that)."""
    withheld = obs.obscured
    return {"observation": obs.pk, "observed_at": shown_observed_at(obs, withheld),
            "recordist": "" if withheld else obs.recordist, "locality": "" if withheld else obs.locality,
            "sound_type": obs.sound_type, "source": obs.source, "source_url": "" if withheld else obs.source_url}


def get_or_start(player, species) -> TimeTravel:
    travel = TimeTravel.objects.filter(player=player, species=species).first()
    if travel is not None:
        return travel
    waypoints = [o.pk for o in route_observations(species)]
    if not waypoints:
        raise ApiError("no_route", "This species has no observations to travel through yet.", status.HTTP_409_CONFLICT)
    travel, _ = TimeTravel.objects.get_or_create(player=player, species=species, defaults={"waypoints": waypoints})
    return travel


def describe(travel: TimeTravel) -> dict:
    by_id = player_reads.in_ids(travel.waypoints)
    steps = []
    for i, oid in enumerate(travel.waypoints):
        obs = by_id.get(oid)
        if obs is None:
            continue
        step = {"index": i, "lat": obs.public_location.y, "lng": obs.public_location.x,
                "year": obs.observed_at.year, "unlocked": i < travel.step}
        if i < travel.step:
            step["story"] = story(obs)
        steps.append(step)
    return {"species": travel.species.label, "step": travel.step, "total": len(travel.waypoints),
            "radius_m": RADIUS_M, "completed": travel.step >= len(travel.waypoints), "waypoints": steps}


def checkin(player, species, lat: float, lng: float, accuracy_m: float, batch: AwardBatch) -> dict:
    travel = TimeTravel.objects.select_for_update().get(pk=get_or_start(player, species).pk)
    if travel.step >= len(travel.waypoints):
        raise ApiError("route_completed", "You have visited every waypoint.", status.HTTP_409_CONFLICT)
    target = player_reads.require_observation(travel.waypoints[travel.step])
    now = timezone.now()
    if travel.last_point is not None and travel.last_checkin_at is not None:
        speed = speed_m_s((travel.last_point.y, travel.last_point.x, travel.last_checkin_at), (lat, lng, now),
                          slack_m=min(accuracy_m, MAX_ACCURACY_BONUS_M))
        if speed > MAX_SPEED_M_S:
            raise ApiError("implausible_speed", "You could not have travelled that fast since your last check-in.",
                           status.HTTP_409_CONFLICT)
    distance = haversine_m(lat, lng, target.public_location.y, target.public_location.x)
    if distance > RADIUS_M + min(accuracy_m, MAX_ACCURACY_BONUS_M):
        raise ApiError("too_far", f"The waypoint is {distance:.0f} m away; come within {RADIUS_M:.0f} m.",
                       status.HTTP_409_CONFLICT, fields={"distance_m": f"{distance:.0f}"})
    from django.contrib.gis.geos import Point

    travel.last_point, travel.last_checkin_at = Point(lng, lat, srid=4326), now
    travel.step += 1
    travel.save(update_fields=["last_point", "last_checkin_at", "step"])
    award(player.pk, "timetravel_step", f"timetravel:{travel.pk}:{travel.step}", batch=batch,
          species_label=species.label)
    return {**describe(travel), "unlocked_story": story(target)}

"""Creating observations with geoprivacy applied; the only way other apps make them."""
from __future__ import annotations

from django.contrib.gis.geos import Point

from .geoprivacy import obscure, obscured_uncertainty_m
from .models import Observation, Status


def public_point(point: Point, sensitive: bool, seed: str) -> tuple[Point, bool]:
    """The point the public may see, and whether it is obscured."""
    if not sensitive:
        return Point(point.x, point.y, srid=4326), False
    lat, lng = obscure(point.y, point.x, seed)
    return Point(lng, lat, srid=4326), True


def build_observation(*, species, location: Point, seed: str, **fields) -> Observation:
    """An unsaved Observation whose public location honours the species' sensitivity."""
    shown, obscured = public_point(location, species.sensitive, seed)
    return Observation(species=species, location=location, public_location=shown, obscured=obscured, **fields)


def public_uncertainty_m(obs: Observation) -> float | None:
    """The uncertainty to publish: at least the obscuring cell's half-diagonal when obscured."""
    if not obs.obscured:
        return obs.coordinate_uncertainty_m
    return max(obs.coordinate_uncertainty_m or 0.0, obscured_uncertainty_m(obs.public_location.y))



def set_status(obs: Observation, status: str) -> bool:
    """Move an observation to another quality grade (community identification); True if it changed."""
    if status not in Status.values:
        raise ValueError(f"unknown status {status!r}")
    if obs.status == status:
        return False
    obs.status = status
    obs.save(update_fields=["status"])
    return True

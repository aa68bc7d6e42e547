"""What one user may see of one observation: the geoprivacy rule applied field by field.

An observation is *withheld* from a user when it is obscured (a sensitive species, or the same
recordist's observation within the linkage window of one) and the user is neither a researcher
nor its owner. Everything withheld users get of it comes from here: the public point and its
0.2° cell, the date without the time, no recordist, no locality and no link that could reveal
coordinates (a xeno-canto page shows the recording's exact place).
"""
from __future__ import annotations

from datetime import timezone

from django.db.models import Case, F, Q, When
from django.db.models.functions import TruncDay

from server.common.permissions import is_researcher

from .geoprivacy import cell_bounds, coarse_date, coarse_precision
from .models import Observation


def sees_true_location(user, obs: Observation) -> bool:
    """Researchers and admins, and the owner for their own observations."""
    return is_researcher(user) or (obs.observer_id is not None and obs.observer_id == getattr(user, "id", None))


def is_withheld(obs: Observation, user=None) -> bool:
    """Whether ``user`` (None: the public, as in exports) gets the obscured version of ``obs``."""
    return obs.obscured and (user is None or not sees_true_location(user, obs))


def shown_time(obs: Observation, withheld: bool) -> tuple[str, str]:
    """(observed_at as published, date_precision): the date only when withheld, else the full instant."""
    if withheld:
        return coarse_date(obs.observed_at, obs.date_precision), coarse_precision(obs.date_precision)
    return obs.observed_at.isoformat(), obs.date_precision


def shown_observed_at(obs: Observation, withheld: bool):
    """observed_at as a response field: the instant (a datetime, rendered as DRF renders it), or the date
    string when withheld."""
    return shown_time(obs, True)[0] if withheld else obs.observed_at


def shown_answers(obs: Observation, withheld: bool) -> dict:
    """The identifications analysis weighed (``claim``, ``model``); withheld, without the phone's model
    version (a per-device version would link the record to the same recordist's others)."""
    if not withheld:
        return obs.answers
    return {name: ({k: v for k, v in answer.items() if k != "model_version"} if name == "claim" else answer)
            for name, answer in obs.answers.items()}


def public_cell(obs: Observation) -> list[float]:
    """[west, south, east, north] of the 0.2° cell the public point lies in (the true point's cell)."""
    return list(cell_bounds(obs.public_location.y, obs.public_location.x))


def published_instant():
    """An expression for ordering lists the public reads: an obscured observation's UTC midnight, else its
    instant (ordered by the instant, an obscured record would sit between the exact ones of its hour)."""
    return Case(When(obscured=True, then=TruncDay("observed_at", tzinfo=timezone.utc)), default=F("observed_at"))


def distance_field(user) -> str:
    """The position a game's distance test may use for ``user``: the true one only for researchers.

    A test against true positions answers "is it within d of here?" about points the public must
    not learn; repeated, it locates them (a bounded binary search). Against public positions it can
    only find what the map shows anyway."""
    return "location" if is_researcher(user) else "public_location"


def within_q(user, point, metres: float) -> Q:
    """Observations within ``metres`` of ``point`` as ``user`` may test it (see :func:`distance_field`)."""
    from django.contrib.gis.measure import D

    return Q(**{f"{distance_field(user)}__distance_lte": (point, D(m=metres))})

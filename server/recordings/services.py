"""What other apps may ask the recordings app about analysed recordings (they never read its tables).

:func:`earning_observations` serves the game's reconciliation of awards (``server/game/reconcile.py``):
the observations whose analysis event may have been lost by a killed worker; :func:`last_recorded_position`
the quiz's "near the player".
"""
from __future__ import annotations

from datetime import datetime

from django.contrib.gis.geos import Point
from django.db.models import Exists, OuterRef, QuerySet

from .models import Recording, Status
from .outcome import submitted_before


def earning_observations(analysed_from: datetime, analysed_to: datetime) -> QuerySet:
    """Ids of the observations of recordings accepted with ``analysed_from <= analysed_at < analysed_to`` that
    earn points, i.e. are not replays (the decision :func:`.outcome.replayed` made when they were analysed:
    no code deletes a recording, so it reads the same later). A values queryset, for use as a subquery;
    it is served by the partial index ``recording_accepted_analysed_at``."""
    earlier = submitted_before(OuterRef("audio_sha256"), OuterRef("created_at"))
    return (Recording.objects
            .filter(status=Status.ACCEPTED, analysed_at__gte=analysed_from, analysed_at__lt=analysed_to,
                    observation__isnull=False)
            .exclude(Exists(earlier))
            .values("observation"))


def last_recorded_position(owner) -> Point | None:
    """Where ``owner`` made their latest recording (by recording time), or None when they made none."""
    return Recording.objects.filter(owner=owner).order_by("-recorded_at").values_list("location", flat=True).first()

"""Reconciliation of awards: a killed worker never costs a player the points of an accepted observation.

The game awards an accepted observation when the analysis event arrives (``consequences``), after the
analysis committed. The event's delivery is at most once (``server/recordings/events.py``): a worker
killed between that commit and the award, or a subscriber that raised, leaves the observation unawarded.
Beat runs :func:`reconcile_awards` every ``schedule.RECONCILE_EVERY_S`` seconds: observations that analysis
accepted and did not find replayed, analysed between :data:`WINDOW` and :data:`GRACE` ago, that have no
``recording_accepted`` ledger event for their cause (``obs:<id>``) and no impossible-travel flag, are
awarded through the subscriber's own function (``consequences.award_decided``).

Invariant: every award is idempotent by its cause (ledger rows, quest contributions, hunt finds, badges),
so the reconciliation racing the subscriber, or two reconciliations, award an observation once.
:data:`GRACE` only keeps the reconciliation from doing the live subscriber's work.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from server.observations import player_reads
from server.recordings.services import earning_observations

from .consequences import award_decided
from .models import PlayerFlag, PointEvent

if TYPE_CHECKING:
    from server.observations.models import Observation

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)    # how far back analysed recordings are checked
GRACE = timedelta(seconds=30)   # how long the live subscriber has before the reconciliation looks
BATCH = 500                     # observations awarded per run at most (oldest first); the rest wait for the next


def unawarded(analysed_from: datetime, analysed_to: datetime) -> QuerySet[Observation]:
    """Observations that earn (accepted, not replayed) analysed in ``[analysed_from, analysed_to)``, with an
    observer, without their ``recording_accepted`` ledger event and without an impossible-travel flag
    (a flag withholds the points: the award found it and wrote no event). Oldest first."""
    awarded = PointEvent.objects.filter(
        player=OuterRef("observer"), rule="recording_accepted",
        cause=Concat(Value("obs:"), Cast(OuterRef("pk"), CharField()), output_field=CharField()))
    flagged = PlayerFlag.objects.filter(reason="impossible_travel", observation=OuterRef("pk"))
    return (player_reads.with_observer(earning_observations(analysed_from, analysed_to))
            .exclude(Exists(awarded)).exclude(Exists(flagged)).order_by("pk"))


def reconcile_awards(now: datetime | None = None, limit: int = BATCH) -> list[int]:
    """Award every observation :func:`unawarded` finds in the window ending :data:`GRACE` before ``now``
    (up to ``limit``), each in its own transaction; returns their ids. One that fails is logged and left
    for the next run."""
    now = now or timezone.now()
    pending = list(unawarded(now - WINDOW, now - GRACE).values_list("pk", flat=True)[:limit])
    done = []
    for observation_id in pending:
        try:
            award_decided(observation_id, replay=False)   # replays were left out by earning_observations
        except Exception:
            log.exception("reconciling the award of observation %s failed", observation_id)
            continue
        done.append(observation_id)
    if pending:
        log.warning("awarded %d accepted observation(s) whose analysis event never reached the game: %s",
                    len(done), done)
    return done

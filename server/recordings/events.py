"""The domain event that ends analysis: :class:`RecordingAnalysed`, sent once per analysed recording.

Analysis (``outcome.apply_outcome``) decides everything about a recording in one transaction and
then hands the decision to whoever reacts to it, through :data:`recording_analysed` (a Django
signal, sent with ``event=``). Contract:

- sent **after the deciding transaction commits**, and only then (a rollback sends nothing);
- sent **once** per recording: a redelivered or retried task finds the recording final and sends
  nothing again;
- it carries the decision itself (accepted or rejected, replay or not, the observation with its
  true and public points), so subscribers never re-read the recording or re-derive it;
- subscribers run one after the other in the analysing process; one that raises is logged and
  neither stops the others nor fails the task. Each subscriber makes its own writes atomic and
  idempotent;
- delivery is at most once: a worker killed between the commit and a subscriber, or a subscriber
  that raises, leaves that subscriber's reaction undone (the recording is final, so no retry sends
  the event again). What must not be lost is reconciled from the committed rows instead.

Subscribers connect in their app's ``ready()``, and each says what a lost event costs it:

- game (points, quests, badges): **reconciled**. Beat's ``game.reconcile_awards``
  (``server/game/reconcile.py``) awards every accepted, non-replayed observation analysed in the last
  24 hours that has no award, through the subscriber's own idempotent function, so a player's points
  are never lost and never counted twice;
- maps (``observation.created`` to the live map): a best-effort push. The map itself heals on its
  own: the observation's rows reached the summary journal in the analysis transaction, and the
  beat refresh (every few seconds) applies them and invalidates cached tiles;
- realtime (the owner's ``recording.update``): a best-effort push; the phone also polls the
  recording's status (``mobile/uploader.py``, ``refresh``);
- soundscapes (the cell goes stale): the live window is rebuilt from the observations on beat
  (``soundscapes.rebuild_live``) and today's day window with the mixes; a past day's window
  already built keeps its old spec until something marks that cell stale again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.dispatch import Signal

from server.observations.publication import shown_time

log = logging.getLogger(__name__)

recording_analysed = Signal()  # sent with event=RecordingAnalysed


@dataclass(frozen=True)
class Point:
    """WGS84 longitude and latitude in degrees."""
    lng: float
    lat: float


@dataclass(frozen=True)
class DecidedObservation:
    """The observation analysis created. ``true_point`` is private (owner, researchers); everything a
    client may be sent about it uses ``public_point`` and ``published_observed_at``."""
    id: int
    species_label: str
    common_name: str
    status: str                 # the observation's quality status (needs_id or casual)
    confidence: float
    kind_conflict: bool
    true_point: Point
    public_point: Point         # equal to true_point unless obscured
    obscured: bool
    observed_at: datetime
    published_observed_at: str  # the instant as ISO text, or the UTC date only when obscured


@dataclass(frozen=True)
class RecordingAnalysed:
    """What analysis decided about one recording."""
    recording_id: str
    owner_id: int
    status: str          # the recording's final status: accepted or rejected
    reject_code: str     # "" when accepted
    reject_reason: str
    replay: bool         # the same audio was submitted before: accepted, but earns nothing
    observation: DecidedObservation | None  # None when rejected

    @property
    def accepted(self) -> bool:
        return self.observation is not None


def decided_observation(obs) -> DecidedObservation:
    """The event's view of a saved :class:`~server.observations.models.Observation`."""
    return DecidedObservation(
        id=obs.pk, species_label=obs.species.label, common_name=obs.species.common_name, status=obs.status,
        confidence=obs.confidence, kind_conflict=obs.kind_conflict,
        true_point=Point(obs.location.x, obs.location.y),
        public_point=Point(obs.public_location.x, obs.public_location.y), obscured=obs.obscured,
        observed_at=obs.observed_at, published_observed_at=shown_time(obs, obs.obscured)[0])


def dispatch(event: RecordingAnalysed) -> None:
    """Hand ``event`` to every subscriber now; a subscriber's failure is logged, never raised."""
    for receiver, result in recording_analysed.send_robust(sender=RecordingAnalysed, event=event):
        if isinstance(result, Exception):
            log.error("recording_analysed subscriber %s failed for recording %s",
                      getattr(receiver, "__qualname__", receiver), event.recording_id, exc_info=result)


def emit_on_commit(event: RecordingAnalysed) -> None:
    """Dispatch ``event`` when the current transaction commits (never when it rolls back)."""
    transaction.on_commit(lambda: dispatch(event))

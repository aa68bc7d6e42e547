"""What an accepted observation earns: the game's subscriber of the analysis event
(``server.recordings.events.RecordingAnalysed``).

The event arrives after analysis committed. In one transaction of its own: one query reads what the
rules need (context.load), then ledger rows, badges, quest and hunt progress are written; boards and
pushes follow its commit (see awards.settle). Every award is idempotent by its cause, so the same
observation awarded twice changes nothing. A replay (decided by analysis) earns nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from server.observations import player_reads
from server.recordings.events import RecordingAnalysed

from . import anticheat, context, quests
from .awards import PlayerOutcome, settle
from .context import RARE_BELOW, ObservationContext, day_tag
from .geo import cell_of
from .ledger import Award, AwardBatch, award_many
from .scenarios import hunt
from .solar import is_dawn, is_night

if TYPE_CHECKING:
    from server.observations.models import Observation


def observation_tags(obs: Observation) -> list[str]:
    lat, lng = obs.location.y, obs.location.x
    tags = [day_tag(obs.observed_at.date())]
    if is_dawn(obs.observed_at, lat, lng):
        tags.append("dawn")
    elif is_night(obs.observed_at, lat, lng):
        tags.append("night")
    return tags


def award_observation(obs: Observation, ctx: ObservationContext, batch: AwardBatch) -> None:
    """Ledger events for one accepted observation (each idempotent by its cause) and the batch's pending
    ones, in one INSERT."""
    player = obs.observer_id
    label = obs.species.label
    shown = obs.public_location if obs.obscured else obs.location  # never leak a sensitive cell
    cell = cell_of(shown.y, shown.x)
    team_id = ctx.team_id
    tags = observation_tags(obs)

    def make(rule: str, cause: str, extra_tags: tuple[str, ...] = ()) -> Award:
        return Award(player, rule, cause, observation_id=obs.pk, species_label=label, cell=cell,
                     tags=extra_tags, team_id=team_id)

    awards = [make("recording_accepted", f"obs:{obs.pk}", tuple(tags)), make("new_species", f"species:{label}"),
              make("new_cell", f"cell:{cell}")]
    if obs.species.sensitive or ctx.earlier_of_species < RARE_BELOW:
        awards.append(make("rare_species", f"rare:{label}"))  # once per species
    if ctx.recorded_yesterday:
        awards.append(make("daily_streak", tags[0]))
    award_many(awards + batch.take_pending(), batch=batch)  # with the quest points counted before


def on_recording_analysed(sender, event: RecordingAnalysed, **kwargs) -> dict[int, PlayerOutcome]:
    """Event subscriber: an accepted recording's observation is awarded (see :func:`award_decided`)."""
    if event.observation is None:
        return {}
    return award_decided(event.observation.id, replay=event.replay)


def award_decided(observation_id: int, replay: bool) -> dict[int, PlayerOutcome]:
    """Award the observation analysis accepted, in a transaction of its own (see :func:`award_accepted`).
    The subscriber and the reconciliation (``reconcile.py``) both award through here."""
    obs = player_reads.require_observation(observation_id, with_species=True)
    with transaction.atomic():
        return award_accepted(obs, replay=replay)


def award_accepted(obs: Observation, replay: bool = False) -> dict[int, PlayerOutcome]:
    """Points, quests, hunts, badges for ``obs``, then boards and pushes after commit; nothing for a
    replay or an impossible journey (a flag waits for a moderator)."""
    if obs.observer_id is None or replay:
        return {}
    batch = AwardBatch()
    ctx = context.load(obs)
    if anticheat.impossible_travel(obs, ctx) is not None:
        return {}
    batch.teams[obs.observer_id] = ctx.team_id
    quests.on_observation(obs, ctx.quests, batch)  # quest points wait in the batch ...
    award_observation(obs, ctx, batch)  # ... for this INSERT
    if ctx.hunt_id is not None:
        hunt.on_observation(obs, ctx.hunt_id, batch)
    return settle(batch)

"""What an accepted observation earns: the receiver of ``observation_accepted``.

Runs inside the transaction that creates the observation: one query reads what the rules need
(context.load), then ledger rows, badges, quest and hunt progress are written there; boards and
pushes happen after commit (see awards.settle).
"""
from __future__ import annotations

from server.observations.models import Observation
from server.realtime.events import observation_message

from . import anticheat, context, push, quests
from .awards import PlayerOutcome, settle
from .context import RARE_BELOW, ObservationContext, day_tag
from .geo import cell_of
from .ledger import Award, AwardBatch, award_many
from .scenarios import hunt
from .solar import is_dawn, is_night


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


def on_observation_accepted(sender, observation: Observation, **kwargs) -> dict[int, PlayerOutcome]:
    """Signal receiver: points, quests, hunts, badges, then boards and pushes after commit."""
    obs = observation
    if obs.observer_id is None:
        return {}
    batch = AwardBatch()
    push.to_player(batch, obs.observer_id, {**observation_message(obs), "type": "observation.accepted"})
    ctx = context.load(obs)
    if ctx.replay or anticheat.impossible_travel(obs, ctx) is not None:
        settle(batch)  # no points (a flag waits for a moderator); the message is still sent
        return {}
    batch.teams[obs.observer_id] = ctx.team_id
    quests.on_observation(obs, ctx.quests, batch)  # quest points wait in the batch ...
    award_observation(obs, ctx, batch)  # ... for this INSERT
    if ctx.hunt_id is not None:
        hunt.on_observation(obs, ctx.hunt_id, batch)
    return settle(batch)

"""What an accepted observation earns: the receiver of ``observation_accepted``.

Runs inside the transaction that creates the observation: ledger rows, badges, quest and hunt
progress are written there; boards and pushes happen after commit (see awards.settle).
"""
from __future__ import annotations

from datetime import timedelta

from server.observations.models import Observation
from server.realtime.events import observation_message

from . import anticheat, push, quests
from .awards import PlayerOutcome, settle
from .geo import cell_of
from .ledger import Award, AwardBatch, award_many, team_of
from .models import PointEvent
from .scenarios import hunt
from .solar import is_dawn, is_night

RARE_BELOW = 5  # a species with fewer earlier observations than this is rare


def observation_tags(obs: Observation) -> list[str]:
    lat, lng = obs.location.y, obs.location.x
    tags = [f"day:{obs.observed_at.date().isoformat()}"]
    if is_dawn(obs.observed_at, lat, lng):
        tags.append("dawn")
    elif is_night(obs.observed_at, lat, lng):
        tags.append("night")
    return tags


def award_observation(obs: Observation, batch: AwardBatch) -> None:
    """Ledger events for one accepted observation (each idempotent by its cause), in one INSERT."""
    player = obs.observer_id
    label = obs.species.label
    shown = obs.public_location if obs.obscured else obs.location  # never leak a sensitive cell
    cell = cell_of(shown.y, shown.x)
    team_id = batch.teams[player] = team_of(player)
    tags = observation_tags(obs)

    def make(rule: str, cause: str, extra_tags: tuple[str, ...] = ()) -> Award:
        return Award(player, rule, cause, observation_id=obs.pk, species_label=label, cell=cell,
                     tags=extra_tags, team_id=team_id)

    awards = [make("recording_accepted", f"obs:{obs.pk}", tuple(tags)), make("new_species", f"species:{label}"),
              make("new_cell", f"cell:{cell}")]
    earlier = Observation.objects.filter(species_id=obs.species_id).exclude(pk=obs.pk)[:RARE_BELOW].count()
    if obs.species.sensitive or earlier < RARE_BELOW:
        awards.append(make("rare_species", f"rare:{label}"))  # once per species
    yesterday = (obs.observed_at - timedelta(days=1)).date().isoformat()
    if PointEvent.objects.filter(player_id=player, rule="recording_accepted",
                                 tags__contains=[f"day:{yesterday}"]).exists():
        awards.append(make("daily_streak", tags[0]))
    award_many(awards, batch=batch)


def on_observation_accepted(sender, observation: Observation, **kwargs) -> dict[int, PlayerOutcome]:
    """Signal receiver: points, quests, hunts, badges, then boards and pushes after commit."""
    obs = observation
    if obs.observer_id is None:
        return {}
    push.to_player(obs.observer_id, {**observation_message(obs), "type": "observation.accepted"})
    if anticheat.audio_seen_before(obs) or anticheat.impossible_travel(obs) is not None:
        return {}  # no points; a flag waits for a moderator
    batch = AwardBatch()
    award_observation(obs, batch)
    quests.on_observation(obs, batch)
    hunt.on_observation(obs, batch)
    return settle(batch)

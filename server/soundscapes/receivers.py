"""Signal receivers: an accepted observation makes its cell's soundscape stale."""
from __future__ import annotations


def on_observation_accepted(sender, observation, **kwargs) -> None:
    from .services import mark_stale

    mark_stale(observation)

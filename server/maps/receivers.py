"""Signal receivers: bump the tile generation and request a summary refresh on any observation change;
push accepted ones live."""
from __future__ import annotations

from django.db import transaction

from . import generation, live, tasks


# A targeted update of these fields (e.g. a grade change after community identifications) is pushed
# live as ``observation.changed``; full re-saves (demo re-imports) only invalidate tiles.
LIVE_FIELDS = frozenset({"status", "species", "confidence", "location", "public_location", "obscured"})


def _invalidate_on_commit() -> None:
    transaction.on_commit(generation.bump)
    transaction.on_commit(tasks.request_refresh)


def on_observation_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    _invalidate_on_commit()
    if not created and update_fields and LIVE_FIELDS & set(update_fields):
        live.publish_after_commit(instance, "observation.changed")


def on_observation_deleted(sender, instance, **kwargs) -> None:
    _invalidate_on_commit()


def on_observation_accepted(sender, observation, **kwargs) -> None:
    live.publish_after_commit(observation, "observation.created")

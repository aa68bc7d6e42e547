"""Signal receivers: bump the tile generation and request a summary refresh on any observation change;
push accepted ones live.

Map freshness has three parts, each with its own job: the SQL triggers (maps migrations) append every
observation write to the summary's journal, whatever wrote it (the ORM, bulk imports, raw SQL);
:func:`on_observation_saved` / :func:`on_observation_deleted` bump the tile generation (cached tiles
and ETags) and ask for a refresh (``tasks.request_refresh``) after any ORM write, analysis'
included; ``refresh.refresh_batch`` applies the journal, asked for here and by beat. The analysis
event adds no refresh of its own: its observation's ``post_save`` already asked for one.
"""
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


def on_recording_analysed(sender, event, **kwargs) -> None:
    """An accepted recording's observation appears on the live map (the event arrives after commit)."""
    if event.observation is not None:
        live.publish_decided(event.observation, event.owner_id, "observation.created")

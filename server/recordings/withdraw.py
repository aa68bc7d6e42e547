"""The recordist's own changes to an uploaded recording: notes, the label while it waits for analysis,
and withdrawal.

Withdrawing takes the recording off the map (its observation is deleted, the public clip with it) and
out of the recordist's list; the row stays with status ``withdrawn`` and its fingerprints, so that
the same audio sent again is a duplicate and analysis never takes it up (``FINAL_STATUSES``). Points
already earned stay. An upload that repeats a withdrawn recording's idempotency key is refused with
``recording_withdrawn`` (410): a phone's queue learns that its item is gone.
"""
from __future__ import annotations

import uuid

from django.db import transaction
from rest_framework import status

from server.common.errors import ApiError
from server.observations import services as observation_services

from .ingest import resolve_species, withdrawn_error
from .models import Recording, Status

MAX_NOTES = 500


def _own_locked(owner, recording_id) -> Recording:
    try:
        recording_id = uuid.UUID(str(recording_id))
    except ValueError:
        recording_id = None
    rec = recording_id and Recording.objects.select_for_update().filter(pk=recording_id, owner=owner).first()
    if rec is None:
        raise ApiError("not_found", "No such recording of yours.", status.HTTP_404_NOT_FOUND)
    return rec


def edit(owner, recording_id, *, label: str | None = None, notes: str | None = None) -> Recording:
    """Change the notes (any time) and the claimed label (only before analysis starts: afterwards the
    species is the analysis' and the community's, ``already_analysed`` 409). Nothing changes on refusal."""
    with transaction.atomic():
        rec = _own_locked(owner, recording_id)
        if rec.status == Status.WITHDRAWN:
            raise withdrawn_error()
        fields = []
        if label is not None:
            if rec.status != Status.RECEIVED:
                raise ApiError("already_analysed", "This recording has been checked, so its species can no longer "
                               "be changed here; others can still identify it.", status.HTTP_409_CONFLICT,
                               fields={"label": "analysed"})
            rec.claimed_species = resolve_species(label)
            fields.append("claimed_species")
        if notes is not None:
            if len(notes) > MAX_NOTES:
                raise ApiError("notes_too_long", f"Notes are limited to {MAX_NOTES} characters.",
                               fields={"notes": f"At most {MAX_NOTES} characters."})
            rec.notes = notes
            fields.append("notes")
        if fields:
            rec.save(update_fields=[*fields, "updated_at"])
        return rec


def withdraw(owner, recording_id) -> tuple[Recording, int | None]:
    """Withdraw an own recording; returns it and the id of the observation removed (None if none).
    Withdrawing again changes nothing. Serialised with analysis by the row lock: an analysis that
    finishes later finds the status final and skips."""
    with transaction.atomic():
        rec = _own_locked(owner, recording_id)
        if rec.status == Status.WITHDRAWN:
            return rec, None
        removed = observation_services.remove_recorded(rec.pk)
        rec.status = Status.WITHDRAWN
        rec.save(update_fields=["status", "updated_at"])
        return rec, removed

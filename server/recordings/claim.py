"""Claim a recording for analysis: mark it processing and count the attempt, in one short transaction.

The claim reads the row once, locked, with what the rest of the task needs (the owner, the claimed
species); the outcome (``outcome.apply_outcome``) works on that same object and only re-checks, under
its own lock, that no other attempt finished the recording meanwhile. What the claim read does not
change while the recording is processing: ingest wrote it, and only the outcome writes it again.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .models import FINAL_STATUSES, Recording, Status


@dataclass(frozen=True)
class Claim:
    recording: Recording  # as claimed: processing, its owner and claimed species loaded

    @property
    def id(self):
        return self.recording.pk

    @property
    def attempts(self) -> int:
        return self.recording.analysis_attempts

    @property
    def audio_path(self) -> str:
        return self.recording.audio_path

    @property
    def segment(self) -> tuple[float, float]:
        return self.recording.segment_start_s, self.recording.segment_end_s

    @property
    def band(self) -> tuple[float, float] | None:
        """The claimed species' plausible band, when it has one."""
        species = self.recording.claimed_species
        return None if species is None else species.band


def claim(recording_id) -> Claim | None:
    """Mark the recording as processing (counting attempts); None if it is missing or already final."""
    with transaction.atomic():
        rec = (Recording.objects.select_for_update(of=("self",)).select_related("claimed_species", "owner")
               .filter(pk=recording_id).exclude(status__in=FINAL_STATUSES).first())
        if rec is None:
            return None
        rec.status, rec.analysis_attempts = Status.PROCESSING, rec.analysis_attempts + 1
        rec.save(update_fields=["status", "analysis_attempts", "updated_at"])
    return Claim(rec)

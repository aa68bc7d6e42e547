"""Measure the band of every accepted recording analysed before analysis stored one (``analysis["band_hz"]``,
ac:freqLow/ac:freqHigh in exports), on its public clip: the marked segment, speech muted, as published.
Recordings without a public clip (licence closed) keep no band; imported observations have no recording."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from ml.runtime.audio import AudioError, decode
from ml.runtime.frequency_band import occupied_band
from server.observations import public_clips
from server.recordings.models import Recording, Status


def measure_missing(batch: int = 200) -> tuple[int, int]:
    """(measured, skipped) over accepted recordings whose analysis lacks ``band_hz``."""
    measured = skipped = 0
    missing = (Recording.objects.filter(status=Status.ACCEPTED, observation__isnull=False)
               .exclude(analysis__has_key="band_hz").select_related("observation").order_by("pk"))
    for rec in missing.iterator(chunk_size=batch):
        data = public_clips.read_clip(rec.observation)
        try:
            band = occupied_band(*decode(data)) if data else None
        except (AudioError, ValueError):
            band = None
        if band is None:
            skipped += 1
            continue
        rec.analysis = {**(rec.analysis or {}), "band_hz": list(band)}
        rec.save(update_fields=["analysis"])
        measured += 1
    return measured, skipped


class Command(BaseCommand):
    help = "Store the measured frequency band of accepted recordings analysed before bands were measured."

    def handle(self, *args, **options):
        measured, skipped = measure_missing()
        self.stdout.write(f"bands: {measured} measured, {skipped} without a public clip or a sound above the floor")

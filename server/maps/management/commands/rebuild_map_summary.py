"""Recompute the map's pre-aggregated cluster cells (``maps_tilecell*``) from observations; empty the journal."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from server.maps import generation, summary


class Command(BaseCommand):
    help = "Rebuild the map's cluster summary tables from observations and empty their journal."

    def handle(self, *args, **opts):
        started = time.perf_counter()
        rows = summary.rebuild()
        generation.bump()
        self.stdout.write(self.style.SUCCESS(
            f"map summary rebuilt: {rows} cell rows in {time.perf_counter() - started:.1f} s"))

"""Celery tasks: rebuild the live soundscape window; render artistic mixes of busy cells."""
from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone

from .windows import live_window


@shared_task(name="soundscapes.rebuild_live", acks_late=True)
def rebuild_live() -> dict:
    from .services import build_window

    build = build_window(live_window(timezone.now()))
    return {"cells": build.n_cells, "observations": build.n_observations}


@shared_task(name="soundscapes.render_mixes", acks_late=True)
def render_mixes(day: str | None = None) -> int:
    from .mix import render_day_mixes

    return render_day_mixes(date.fromisoformat(day) if day else timezone.now().date())

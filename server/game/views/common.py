"""Shared view helpers: validated bodies, level gates, a transaction that settles awards."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from rest_framework import status

from server.common.phone_audio import audio_response
from server.common.errors import ApiError
from server.common.permissions import is_researcher
from server.common.strict_json import text_problem
from server.observations import public_clips
from server.species.lookup import species_by_label

from ..awards import settle
from ..ledger import AwardBatch, total_xp
from ..levels import SCENARIO_LEVELS, level_for

if TYPE_CHECKING:
    from server.species.models import Species


def body(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def require_level(user, scenario: str) -> None:
    need = SCENARIO_LEVELS[scenario]
    if not is_researcher(user) and level_for(total_xp(user.pk)) < need:
        raise ApiError("level_too_low", f"This scenario unlocks at level {need}.", status.HTTP_403_FORBIDDEN,
                       fields={"level": str(need)})


def species_or_400(label: str) -> Species:
    """The catalogue species with this label, else 400 ``unknown_species`` (also for a label with a NUL
    character or a lone surrogate, which never reaches the database)."""
    label = str(label).strip()
    species = None if text_problem(label) else species_by_label(label)
    if species is None:
        raise ApiError("unknown_species", f"{str(label)[:80]!r} is not in the catalogue.",
                       fields={"species": "unknown"})
    return species


@contextmanager
def awarding():
    """A transaction whose new ledger events are settled (badges, levels, boards, pushes) at the end."""
    with transaction.atomic():
        batch = AwardBatch()
        yield batch
        settle(batch)


def clip_response(request: HttpRequest, observation) -> HttpResponse:
    """The observation's public clip (never the player's upload), byte ranges answered
    (:mod:`server.common.byte_ranges`); 404 ``audio_unavailable`` without one.
    Private to the asking player: the game's URL must not become a shared cache's key to the species."""
    fh = public_clips.open_clip(observation)
    if fh is None:
        raise ApiError("audio_unavailable", "This observation has no public audio.", status.HTTP_404_NOT_FOUND)
    response = audio_response(request, fh, public_clips.CONTENT_TYPE)   # ?audio=wav for phones
    response["Cache-Control"] = "private, no-store"
    return response

"""The community identifications of one observation as other apps show them (the map's popup).

Only identifications that count now are listed (a withdrawn one stays in the game's history,
``GET /api/v1/observations/{id}/identifications/``), in the game's order (oldest first). Where the game's
tables do not exist (a database migrated without the game app) there are none.
"""
from __future__ import annotations

from functools import lru_cache

from django.db import connection

from .models import Identification


@lru_cache(maxsize=1)
def identifications_available() -> bool:
    """Whether the identifications' table exists in the database (checked once per process)."""
    return Identification._meta.db_table in connection.introspection.table_names()


def current_identifications(observation_id: int) -> list[dict]:
    """The observation's identifications that count now: ``species`` (label), ``kind``, ``identifier``
    (username) and ``created_at`` (ISO 8601), oldest first."""
    if not identifications_available():
        return []
    rows = (Identification.objects.filter(observation_id=observation_id, withdrawn_at__isnull=True)
            .select_related("species", "identifier"))
    return [{"species": i.species.label, "kind": i.kind, "identifier": i.identifier.username,
             "created_at": i.created_at.isoformat()} for i in rows]

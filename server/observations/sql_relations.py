"""The observations as other apps' SQL may read them: one relation, built from the model's metadata.

An app that composes SQL over observations (the map's tiles, its summary tables and the benchmarks' loader)
takes the relation from here and never names the table: :func:`observation_rows` is a parenthesised
``SELECT`` of the columns listed in :data:`READ_COLUMNS`, each under its attribute name (``species_id``,
``observer_id``, ``location``, …), to be used as ``FROM {observation_rows()} o``. It is a plain projection
(no join, no aggregate, no ``LIMIT``), so PostgreSQL pulls it up into the outer query and plans it exactly as
the table itself: its indexes serve the outer ``WHERE``. :func:`observation_table` names the table for the few
statements that must name it (``LOCK``, ``INSERT``, ``VACUUM``).
"""
from __future__ import annotations

from functools import cache

from server.common.model_relation import projection_sql

from .models import Observation

# The columns other apps' SQL may read, by the model's attribute names (foreign keys as ``<field>_id``).
READ_COLUMNS = ("id", "species_id", "observer_id", "recording_id", "location", "public_location", "obscured",
                "observed_at", "confidence", "status", "sound_type", "source", "rating", "recordist", "license")


def observation_table() -> str:
    """The observations table's name, for statements that must name the table itself (``LOCK TABLE``,
    ``INSERT INTO``, ``VACUUM``); a read goes through :func:`observation_rows`."""
    return Observation._meta.db_table


@cache
def observation_rows() -> str:
    """Every observation as a parenthesised ``SELECT`` of :data:`READ_COLUMNS` (named as listed there), for
    ``FROM {observation_rows()} alias``; see the module docstring for why it costs nothing. Built once per
    process (the model's metadata is fixed at run time)."""
    return projection_sql(Observation, READ_COLUMNS)

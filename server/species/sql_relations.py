"""The species catalogue as other apps' SQL may read it, built from the model's metadata.

:func:`species_rows` is a parenthesised ``SELECT`` of :data:`READ_COLUMNS` for ``JOIN {species_rows()} s``;
a plain projection, which PostgreSQL pulls up into the outer query (the same plan as the table). SQL whose text
is frozen in a migration (the map summary's refresh function joins the labels) names the table through
:func:`species_table`, which gives the very name that text holds.
"""
from __future__ import annotations

from functools import cache

from server.common.model_relation import projection_sql

from .models import Species

# The columns other apps' SQL may read, by the model's attribute names.
READ_COLUMNS = ("id", "label", "scientific_name", "sensitive")


def species_table() -> str:
    """The catalogue table's name, for SQL that must name the table itself; a read goes through
    :func:`species_rows`."""
    return Species._meta.db_table


@cache
def species_rows() -> str:
    """Every species as a parenthesised ``SELECT`` of :data:`READ_COLUMNS`, for ``JOIN {species_rows()} alias``;
    built once per process."""
    return projection_sql(Species, READ_COLUMNS)
